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
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import http_date

from restricted_sessions.checks import raise_on_misconfiguration
from restricted_sessions.conf import Config, get_config
from restricted_sessions.headers import header
from restricted_sessions.keys import key_validator
from restricted_sessions.restriction import RestrictedSessionsMiddleware

__all__ = [
    "CsrfViewMiddleware",
    "RestrictedSessionsMiddleware",
    "SessionMiddleware",
    "is_header_session",
]
#: A request attribute a view may set to a callable returning the response to send instead of
#: Django's 400 when its session is deleted before the response saves it (SessionInterrupted).
ON_INTERRUPTED_ATTRIBUTE = "_restricted_sessions_on_interrupted"
INTERRUPTED = (
    "The request's session was deleted before the request completed. The user may have logged "
    "out in a concurrent request, for example."
)


def is_header_session(request: HttpRequest) -> bool:
    """True when the request's session was identified by the session header."""
    return getattr(getattr(request, "session", None), "csrf_exempt", False) is True


def _holds_nothing(session: SessionBase) -> bool:
    """True for a session without data: never saved, and its key (if any) named no session."""
    # Django's own is_empty() reads the same attribute; a signed cookie that failed to load keeps
    # its (forged or expired) value as key but holds nothing.
    return session.is_empty() or getattr(session, "_session_cache", None) == {}


def _can_save(session: SessionBase, response: HttpResponseBase) -> bool:
    """Whether a session to be saved may be: it holds something, and the response is no 5xx (as Django)."""
    return not _holds_nothing(session) and response.status_code < 500


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
        cls, base = type(self), SessionMiddleware
        # Under ASGI a subclass's own sync phase runs in a thread, as MiddlewareMixin runs it: it
        # may do blocking I/O. Ours do none (the response phase has its async twin).
        self._sync_request_phase = cls.process_request is not base.process_request
        self._sync_response_phase = (
            cls.process_response is not base.process_response and cls.aprocess_response is base.aprocess_response
        )

    # Request -----------------------------------------------------------------------------

    def process_request(self, request: HttpRequest) -> None:
        config = get_config()
        meta_key = config.session_header_meta_key
        # Most requests carry no session header: META answers that without a call to header().
        sent = None if meta_key is None or meta_key not in request.META else header(request, meta_key)
        if sent is None:
            # Django's process_request, with the cookie name read once per configuration.
            request.session = session = self.SessionStore(request.COOKIES.get(config.session_cookie_name))
            session.csrf_exempt = False  # type: ignore[attr-defined]
            return
        # The header wins over the cookie. A value the engine could not have issued is never
        # passed on: the store starts a fresh session with a key of its own.
        request.session = self.SessionStore(sent if self.accepts_key(sent) else None)
        request.session.csrf_exempt = True  # type: ignore[attr-defined]

    # Response ----------------------------------------------------------------------------

    def process_response(  # type: ignore[override]
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        session = getattr(request, "session", None)
        if not isinstance(session, SessionBase):
            return response
        config = get_config()
        vary = session.accessed
        # Django's rule: a modified session (or SESSION_SAVE_EVERY_REQUEST) is saved unless it
        # holds nothing or the response is a 5xx. The first test alone settles the steady state.
        if (session.modified or config.save_every_request) and _can_save(session, response):
            max_age = None if session.get_expire_at_browser_close() else session.get_expiry_age()
            try:
                session.save()
            except UpdateError:
                return self._interrupted(request, session, config)
            self._send_key(request, response, session, max_age, config)
            vary = True
        return self._finish(request, response, session, vary, config)

    async def aprocess_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        session = getattr(request, "session", None)
        if not isinstance(session, SessionBase):
            return response
        config = get_config()
        vary = session.accessed
        if (session.modified or config.save_every_request) and _can_save(session, response):
            if await session.aget_expire_at_browser_close():
                max_age = None
            else:
                max_age = await session.aget_expiry_age()
            try:
                await session.asave()
            except UpdateError:
                return self._interrupted(request, session, config)
            self._send_key(request, response, session, max_age, config)
            vary = True
        return self._finish(request, response, session, vary, config)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # MiddlewareMixin.__call__ without its hasattr() probes: both methods are defined here.
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        # A subclass's process_request may answer instead of the view, as MiddlewareMixin allows.
        answer: HttpResponseBase | None = self.process_request(request)  # type: ignore[func-returns-value]
        return self.process_response(request, answer or cast(HttpResponseBase, self.get_response(request)))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # Reading the key does no I/O, and the response phase uses the async session API, so
        # nothing of ours needs a thread.
        answer: HttpResponseBase | None
        if self._sync_request_phase:
            answer = await sync_to_async(self.process_request, thread_sensitive=True)(request)  # type: ignore[func-returns-value]
        else:
            answer = self.process_request(request)  # type: ignore[func-returns-value]
        response = answer or await cast(Awaitable[HttpResponseBase], self.get_response(request))
        if self._sync_response_phase:
            return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        return await self.aprocess_response(request, response)

    def _interrupted(self, request: HttpRequest, session: SessionBase, config: Config) -> HttpResponseBase:
        """Django's answer to SessionInterrupted (400, logged), with the "session ended" signal.

        A view that knows better says so with ``ON_INTERRUPTED_ATTRIBUTE`` (the DBSC refresh: a
        session ended by a concurrent logout ends the browser's device-bound session).
        """
        on_interrupted = getattr(request, ON_INTERRUPTED_ATTRIBUTE, None)
        if callable(on_interrupted):
            response: HttpResponseBase = on_interrupted()
        else:
            response = response_for_exception(request, SessionInterrupted(INTERRUPTED))
        if is_header_session(request) and config.session_header:
            _send_header(response, config.session_header, "")
        return response

    def _send_key(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        session: SessionBase,
        max_age: int | None,
        config: Config,
    ) -> None:
        key = session.session_key or ""
        if config.session_header and is_header_session(request):
            # Only a client that asked for header sessions (it sent the header, empty to start)
            # ever sees its key in a header: a cookie stays HttpOnly.
            _send_header(response, config.session_header, key)
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

    def _finish(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        session: SessionBase,
        vary: bool,
        config: Config,
    ) -> HttpResponseBase:
        # A client that holds a key naming no session is told to drop it. Asked in this order, a
        # request that sent no key never reaches _holds_nothing() (is_empty() raises and catches
        # AttributeError on a store that was never loaded).
        if is_header_session(request):
            sent = header(request, config.session_header_meta_key) if config.session_header_meta_key else None
            if sent and config.session_header and _holds_nothing(session):
                _send_header(response, config.session_header, "")
                vary = True
        elif config.session_cookie_name in request.COOKIES and _holds_nothing(session):
            response.delete_cookie(
                settings.SESSION_COOKIE_NAME,
                path=settings.SESSION_COOKIE_PATH,
                domain=settings.SESSION_COOKIE_DOMAIN,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
            vary = True
        if vary:
            patch_vary_headers(response, ("Cookie", config.session_header) if config.session_header else ("Cookie",))
        return response


def _send_header(response: HttpResponseBase, name: str, value: str) -> None:
    response[name] = value
    # A key in a response must never be stored by a shared cache and handed to someone else, nor
    # be lost to a 304: a response without validators is never turned into one.
    patch_cache_control(response, private=True, no_store=True)
    for validator in ("ETag", "Last-Modified"):
        if validator in response:
            del response[validator]


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
