"""Django Channels: the IP/User-Agent binding enforced when a WebSocket connects.

Channels' ``AuthMiddlewareStack`` loads the session from the cookie and never runs Django's HTTP
middleware, so without this a stolen session key opens a WebSocket from anywhere. Needs the
``[channels]`` extra::

    application = ProtocolTypeRouter({
        "http": get_asgi_application(),
        "websocket": RestrictedAuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    })
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack, get_user, logout  # type: ignore[import-untyped]
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.utils.functional import LazyObject

from restricted_sessions import enforcement
from restricted_sessions.checks import raise_on_misconfiguration
from restricted_sessions.conf import get_config
from restricted_sessions.tickets import TICKET_PARAMETER, aissue_ticket, aredeem_ticket, issue_ticket, ticket_view

__all__ = [
    "CLOSE_RESTRICTED",
    "CLOSE_TICKET_REFUSED",
    "RestrictedAuthMiddlewareStack",
    "RestrictedSessionsMiddleware",
    "WebSocketRestrictionMiddleware",
    "aissue_ticket",
    "handshake_request",
    "issue_ticket",
    "ticket_view",
]

Scope = MutableMapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[Any]]

#: The close code of a handshake refused because the session's IP or User-Agent changed.
CLOSE_RESTRICTED = 4403
#: The close code of a handshake refused because its ``?ticket=`` is forged, expired, used or moved.
CLOSE_TICKET_REFUSED = 4401


class WebSocketRestrictionMiddleware:
    """Check a WebSocket's session against its binding before the consumer sees the connection.

    Goes inside Channels' ``SessionMiddleware`` (and ``AuthMiddleware``), for example
    ``AuthMiddlewareStack(WebSocketRestrictionMiddleware(inner))``. On ``websocket`` scopes it
    applies the rules and settings of the HTTP middleware; when the IP address or User-Agent
    changed it ends the session (Channels' ``logout`` when it holds a user, else a flush) and
    refuses the handshake: the server answers HTTP 403, and ``WebsocketCommunicator.connect()``
    returns ``(False, 4403)``. A key refused before (by this or the HTTP middleware) is refused
    again for the session's remaining age. A ``?ticket=`` from :func:`issue_ticket` replaces the
    cookie's session. A session is never bound here (binding happens at the HTTP login), but what
    a check completes is saved at once: with DUAL_STACK the second address family on its first
    use, and a part that matched only through ``SECRET_KEY_FALLBACKS``, rewritten with
    ``SECRET_KEY``. Other scopes pass through.
    """

    def __init__(self, inner: ASGIApp) -> None:
        raise_on_misconfiguration()
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        if "session" not in scope:
            raise ValueError(
                "WebSocketRestrictionMiddleware found no session in the scope: wrap it in Channels' "
                "SessionMiddleware, e.g. AuthMiddlewareStack(WebSocketRestrictionMiddleware(inner)), "
                "or use RestrictedAuthMiddlewareStack(inner)."
            )
        scope = dict(scope)
        request = handshake_request(scope)
        tickets = _tickets(request)
        if tickets:
            key = await aredeem_ticket(tickets[0], request)
            if key is None:
                return await _refuse(receive, send, CLOSE_TICKET_REFUSED)
            await _adopt_session(scope, key)
            request.session = scope["session"]
        code = await self.check(scope, request)
        if code is not None:
            return await _refuse(receive, send, code)
        return await self.inner(scope, receive, send)

    async def check(self, scope: Scope, request: HttpRequest) -> int | None:
        """The close code to refuse the connection with, or None to let it through."""
        session: SessionBase = scope["session"]
        config = get_config()
        examination = await enforcement.aexamine(request, _unloaded(scope, request, session), config)
        if examination is None:
            return None
        if examination.outcome.save is not None:
            # No HTTP response will save it: what the check binds (a second address family, a
            # rewrite after a SECRET_KEY rotation) is persisted here, without undoing a DBSC
            # registration stored since the session was read.
            await enforcement.acarry_registration(session, examination, config)
            await session.asave()
        if examination.outcome.reason is None and not examination.refused_before:
            return None
        if not examination.refused_before:
            await enforcement.areport(request, examination, config, sender=type(self), scope=scope)
            if config.report_only:
                return None
            if not enforcement.ends_session(examination):
                # A device-bound session without its bound cookie: refused, not ended (as over HTTP).
                return CLOSE_RESTRICTED
            await enforcement.aremember_refused(session, config)
            if examination.user_id is not None and "user" in scope:
                await logout(scope)
            else:
                await session.aflush()
        return CLOSE_RESTRICTED


#: The 1.0 name of :class:`WebSocketRestrictionMiddleware`, kept so that imports keep working; it
#: collided with the HTTP middleware's name.
RestrictedSessionsMiddleware = WebSocketRestrictionMiddleware


def RestrictedAuthMiddlewareStack(inner: ASGIApp) -> ASGIApp:
    """Channels' ``AuthMiddlewareStack`` with :class:`WebSocketRestrictionMiddleware` inside it.

    Named like Channels' stack, which it replaces.
    """
    return AuthMiddlewareStack(WebSocketRestrictionMiddleware(inner))  # type: ignore[no-any-return]


def handshake_request(scope: Scope) -> HttpRequest:
    """An ``HttpRequest`` that describes a WebSocket handshake, for the library's request helpers.

    ``META`` holds ``REMOTE_ADDR`` (from ``scope["client"]``), ``QUERY_STRING`` and the headers
    as ``HTTP_*`` keys (repeated headers joined with commas, as Django does). Header names that
    contain an underscore are dropped, as WSGI servers do, so that ``x_forwarded_for`` cannot
    pass for ``X-Forwarded-For``. ``COOKIES`` holds the cookies Channels parsed (``scope["cookies"]``),
    else those of the ``Cookie`` header. Signal receivers get it as ``request``.
    """
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = scope.get("path", "")
    meta: dict[str, Any] = {
        "PATH_INFO": request.path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
    }
    client = scope.get("client")
    if client:
        meta["REMOTE_ADDR"] = client[0]
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin1")
        if "_" in name:
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin1")
        meta[key] = f"{meta[key]},{value}" if key in meta else value
    request.META = meta
    # The cookies Channels' CookieMiddleware parsed (the ones the session came from), else the
    # header's, as Django parses them: a device-bound session's bound cookie is among them.
    cookies = scope.get("cookies")
    request.COOKIES = dict(cookies) if isinstance(cookies, dict) else parse_cookie(meta.get("HTTP_COOKIE", ""))
    if "session" in scope:
        request.session = scope["session"]
    if "user" in scope:
        request.user = scope["user"]
    return request


def _unloaded(scope: Scope, request: HttpRequest, session: SessionBase) -> SessionBase:
    """The session to examine: a fresh store when the one in the scope lost the cookie's key.

    Channels' AuthMiddleware loads the session before this middleware runs, and loading a key
    that names no session forgets the key; a fresh store for the cookie's key lets the examination
    see a key refused before (and refuse it again). Costs a load only for such keys. A ticket's
    session replaced the cookie's, so a connection with a ticket never falls back to the cookie.
    """
    if session.session_key is not None:
        return session
    cookie_key = scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
    if not isinstance(cookie_key, str) or not cookie_key or _tickets(request):
        return session
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie_key)  # type: ignore[no-any-return]


def _tickets(request: HttpRequest) -> list[str]:
    return parse_qs(request.META["QUERY_STRING"], keep_blank_values=True).get(TICKET_PARAMETER, [])


async def _adopt_session(scope: Scope, key: str) -> None:
    """Make the ticket's session the connection's session (and its user the scope's user)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    _replace(scope, "session", store)
    if "user" in scope:
        _replace(scope, "user", await get_user(scope))


def _replace(scope: Scope, name: str, value: Any) -> None:
    # Channels' session and user are LazyObjects shared with the middleware above: fill them in.
    current = scope[name]
    if isinstance(current, LazyObject):
        current._wrapped = value
    else:
        scope[name] = value


async def _refuse(receive: Receive, send: Send, code: int) -> None:
    """Refuse the handshake: a close before the accept, which servers answer with HTTP 403."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": code})
