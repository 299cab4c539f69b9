"""django-ninja: session authentication for header sessions and cookie sessions.

Needs the ``[ninja]`` extra and the library's middleware (SessionMiddleware, and Django's
AuthenticationMiddleware after it)::

    api = NinjaAPI(auth=SessionAuth())
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from ninja.security import SessionAuth as NinjaSessionAuth
from ninja.security.base import SecuritySchema

from restricted_sessions.conf import raw_settings
from restricted_sessions.middleware import is_header_session

__all__ = ["SessionAuth"]


class SessionAuth(NinjaSessionAuth):
    """ninja's ``SessionAuth`` that also accepts sessions identified by the session header.

    The CSRF check (``csrf=True``, the default) is skipped for header sessions only, as by the
    library's CsrfViewMiddleware; cookie sessions are checked exactly as by ninja. Works for sync
    and ``async def`` operations without a thread for header sessions: called on the event loop it
    returns an awaitable, elsewhere the user. The OpenAPI schema declares an API key in the
    ``RESTRICTEDSESSIONS_SESSION_HEADER`` header (in the session cookie when header sessions are
    turned off).
    """

    def __init__(self, csrf: bool = True) -> None:
        super().__init__(csrf=csrf)
        # Makes ninja's async operations await __call__ instead of running it in a thread.
        self.is_async = True

    @property
    def openapi_security_schema(self) -> SecuritySchema:
        """Read from the settings on each access, so the schema follows ``override_settings``.

        Read as the site wrote it, not validated: ninja reads it when ``SessionAuth()`` is made,
        typically while a URLconf is imported, and a misconfiguration is for ``manage.py check``
        to report with all the others, not for an import to raise.
        """
        header = raw_settings()["SESSION_HEADER"]
        if isinstance(header, str) and header:
            return SecuritySchema("apiKey", **{"in": "header", "name": header})
        return SecuritySchema("apiKey", **{"in": "cookie", "name": settings.SESSION_COOKIE_NAME})

    @openapi_security_schema.setter
    def openapi_security_schema(self, value: SecuritySchema) -> None:
        # ninja's AuthBase.__init__ stores the schema once; this class computes it instead.
        pass

    def __call__(self, request: HttpRequest) -> Any:
        if _on_event_loop():
            return self._acall(request)
        return self.authenticate(request, self._get_key(request))

    def _get_key(self, request: HttpRequest) -> str | None:
        if is_header_session(request):
            return request.session.session_key
        # A cookie session: ninja's CSRF check (honouring csrf= and csrf_exempt operations).
        return super()._get_key(request)

    async def _acall(self, request: HttpRequest) -> Any:
        if is_header_session(request):
            key = request.session.session_key
        else:
            # Django's CSRF check is sync (and may read the session): like Django's own
            # CsrfViewMiddleware under ASGI, it runs in a thread.
            key = await sync_to_async(super()._get_key)(request)
        return await self.aauthenticate(request, key)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        """The authenticated user, else None (ninja then answers 401)."""
        user = request.user
        return user if user.is_authenticated else None

    async def aauthenticate(self, request: HttpRequest, key: str | None) -> Any:
        """``authenticate`` for async operations: loads the user with ``request.auser()``."""
        user = await request.auser()
        return user if user.is_authenticated else None


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
