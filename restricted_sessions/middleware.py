"""The library's middleware: header sessions, IP/User-Agent binding, CSRF for header sessions.

``RestrictedSessionsMiddleware`` lives in ``restriction.py`` and is importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import http_date

from restricted_sessions.checks import raise_on_misconfiguration
from restricted_sessions.conf import conf
from restricted_sessions.keys import key_validator
from restricted_sessions.restriction import RestrictedSessionsMiddleware

__all__ = [
    "CsrfViewMiddleware",
    "RestrictedSessionsMiddleware",
    "SessionMiddleware",
    "is_header_session",
]
INTERRUPTED = (
    "The request's session was deleted before the request completed. The user may have logged "
    "out in a concurrent request, for example."
)


def is_header_session(request: HttpRequest) -> bool:
    """True when the request's session was identified by the session header."""
    return getattr(getattr(request, "session", None), "csrf_exempt", False) is True


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's SessionMiddleware that also takes the session key from a request header.

    Overrides ``process_request`` (the key comes from ``X-SessionID`` or else the cookie) and
    ``process_response`` (a header session's key goes back in the header, never in a cookie);
    under ASGI the response phase uses the session's async API instead of a thread.
    """

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        raise_on_misconfiguration()
        super().__init__(get_response)
        self.accepts_key = key_validator(self.SessionStore)

    # Request -----------------------------------------------------------------------------

    def process_request(self, request: HttpRequest) -> None:
        header_key = conf.session_header_meta_key
        sent = request.META.get(header_key) if header_key else None
        if sent is None:
            super().process_request(request)
            request.session.csrf_exempt = False  # type: ignore[attr-defined]
            return
        # The header wins over the cookie. A value the engine could not have issued is never
        # passed on: the store starts a fresh session with a key of its own.
        request.session = self.SessionStore(sent if self.accepts_key(sent) else None)
        request.session.csrf_exempt = True  # type: ignore[attr-defined]

    # Response ----------------------------------------------------------------------------

    def _must_save(self, session: SessionBase, response: HttpResponseBase) -> bool:
        return (
            (session.modified or conf.save_every_request)
            and not session.is_empty()
            # Like Django: no save on 5xx responses.
            and response.status_code < 500
        )

    def process_response(  # type: ignore[override]
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        session = getattr(request, "session", None)
        if not isinstance(session, SessionBase):
            return response
        vary = session.accessed
        if self._must_save(session, response):
            max_age = None if session.get_expire_at_browser_close() else session.get_expiry_age()
            try:
                session.save()
            except UpdateError:
                raise SessionInterrupted(INTERRUPTED) from None
            self._send_key(request, response, session, max_age)
            vary = True
        return self._finish(request, response, session, vary)

    async def aprocess_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        session = getattr(request, "session", None)
        if not isinstance(session, SessionBase):
            return response
        vary = session.accessed
        if self._must_save(session, response):
            if await session.aget_expire_at_browser_close():
                max_age = None
            else:
                max_age = await session.aget_expiry_age()
            try:
                await session.asave()
            except UpdateError:
                raise SessionInterrupted(INTERRUPTED) from None
            self._send_key(request, response, session, max_age)
            vary = True
        return self._finish(request, response, session, vary)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # Reading the key does no I/O, and the response phase uses the async session API, so
        # nothing here needs a thread.
        self.process_request(request)
        response = await cast(Awaitable[HttpResponseBase], self.get_response(request))
        return await self.aprocess_response(request, response)

    def _send_key(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        session: SessionBase,
        max_age: int | None,
    ) -> None:
        header = conf.SESSION_HEADER
        key = session.session_key or ""
        if header and is_header_session(request):
            _send_header(response, header, key)
            return
        response.set_cookie(
            settings.SESSION_COOKIE_NAME,
            key,
            max_age=max_age,
            expires=None if max_age is None else http_date(time.time() + max_age),
            domain=settings.SESSION_COOKIE_DOMAIN,
            path=settings.SESSION_COOKIE_PATH,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=settings.SESSION_COOKIE_HTTPONLY,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )
        # A client that sent neither cookie nor header may be one that cannot keep cookies: it
        # gets the new key in the header too. A client that sent a cookie never does.
        if header and conf.session_cookie_name not in request.COOKIES:
            _send_header(response, header, key)

    def _finish(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        session: SessionBase,
        vary: bool,
    ) -> HttpResponseBase:
        if session.is_empty():
            if getattr(session, "csrf_exempt", False) is True:
                # The client holds a key that no longer names a session: tell it to drop it.
                header_key = conf.session_header_meta_key
                if header_key and request.META.get(header_key):
                    _send_header(response, conf.SESSION_HEADER or "", "")
                    vary = True
            elif conf.session_cookie_name in request.COOKIES:
                response.delete_cookie(
                    settings.SESSION_COOKIE_NAME,
                    path=settings.SESSION_COOKIE_PATH,
                    domain=settings.SESSION_COOKIE_DOMAIN,
                    samesite=settings.SESSION_COOKIE_SAMESITE,
                )
                vary = True
        if vary:
            header = conf.SESSION_HEADER
            patch_vary_headers(response, ("Cookie", header) if header else ("Cookie",))
        return response


def _send_header(response: HttpResponseBase, header: str, value: str) -> None:
    response[header] = value
    # A key in a response must never be stored by a shared cache and handed to someone else.
    patch_cache_control(response, private=True, no_store=True)


class CsrfViewMiddleware(DjangoCsrfViewMiddleware):
    """Django's CsrfViewMiddleware that skips the check (``process_view``) for header sessions.

    A browser cannot send a custom header cross-site without the site's CORS consent, so a
    request that carries its session in the header cannot be a cross-site forgery. Cookie
    sessions are checked exactly as by Django.
    """

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        if self.async_mode:
            # Decide for header sessions on the event loop; only Django's check needs a thread.
            self.process_view = self._aprocess_view  # type: ignore[method-assign, assignment]

    def process_view(  # type: ignore[override]
        self,
        request: HttpRequest,
        callback: Callable[..., HttpResponseBase],
        callback_args: Any,
        callback_kwargs: Any,
    ) -> HttpResponseBase | None:
        if is_header_session(request):
            request.csrf_processing_done = True  # type: ignore[attr-defined]
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)

    async def _aprocess_view(
        self,
        request: HttpRequest,
        callback: Callable[..., HttpResponseBase],
        callback_args: Any,
        callback_kwargs: Any,
    ) -> HttpResponseBase | None:
        if is_header_session(request):
            request.csrf_processing_done = True  # type: ignore[attr-defined]
            return None
        check: Callable[..., Awaitable[HttpResponseBase | None]] = sync_to_async(
            super().process_view, thread_sensitive=True
        )
        return await check(request, callback, callback_args, callback_kwargs)
