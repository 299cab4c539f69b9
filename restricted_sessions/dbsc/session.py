"""What the middleware calls: the invitation, the enforcement, the end of a device-bound session.

Each function comes in a sync form and an async form (``a`` prefix, Django's async session API),
so neither path needs a thread. The device-bound state lives in the Django session under
``SESSION_KEY`` (the endpoints also record answered challenges in RESTRICTEDSESSIONS_CACHE).

Enforcement answers only "is this request's bound cookie valid". What to do when it is not is the
engine's: refuse the request (reason ``REASON``) and keep the session. Ending the session would let
anyone holding a copied session cookie log its owner out at will; refusing the request is enough,
since without the device's private key nobody can obtain a bound cookie.
"""

from __future__ import annotations

import time
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from django.urls import NoReverseMatch, reverse

from restricted_sessions.conf import get_config
from restricted_sessions.dbsc import protocol

SESSION_KEY = "_restricted_sessions_dbsc"
REASON = "dbsc"
URL_NAMESPACE = "restricted_sessions_dbsc"


def endpoint_path(name: str) -> str:
    """The path of the ``registration`` or ``refresh`` endpoint (``reverse``); ImproperlyConfigured if not routed."""
    try:
        return reverse(f"{URL_NAMESPACE}:{name}")
    except NoReverseMatch as exc:
        raise ImproperlyConfigured(
            "RESTRICTEDSESSIONS_DBSC is on but its endpoints are not routed: add "
            'path("dbsc/", include("restricted_sessions.dbsc.urls")) to your URLconf.'
        ) from exc


# The invitation -------------------------------------------------------------------------------


def _invite(request: HttpRequest, state: Any) -> tuple[protocol.State, str] | None:
    config = get_config().dbsc
    # Browsers ignore the header on plain HTTP, and a __Host- cookie cannot be set there.
    if not config.enabled or not request.is_secure() or protocol.is_registered(state):
        return None
    state, challenge = protocol.issue_challenge(state, time.time())
    return state, protocol.registration_header(config.algorithms, endpoint_path("registration"), challenge)


def registration_header(request: HttpRequest) -> str | None:
    """The ``Secure-Session-Registration`` value to send on a response that starts an authenticated session.

    Stores a fresh one-time challenge in ``request.session`` (so the response saves the session).
    None when DBSC is off, the request is not HTTPS, or the session is already device-bound (it can
    never be bound to a second key; call ``unbind`` first when a new login should allow it).
    """
    invitation = _invite(request, request.session.get(SESSION_KEY))
    if invitation is None:
        return None
    request.session[SESSION_KEY] = invitation[0]
    return invitation[1]


async def aregistration_header(request: HttpRequest) -> str | None:
    """``registration_header`` through the async session API."""
    invitation = _invite(request, await request.session.aget(SESSION_KEY))
    if invitation is None:
        return None
    await request.session.aset(SESSION_KEY, invitation[0])
    return invitation[1]


# Enforcement ----------------------------------------------------------------------------------


def _cookie_valid(request: HttpRequest, state: Any) -> bool:
    config = get_config().dbsc
    if not config.enabled or state is None:
        return True
    return protocol.bound_cookie_ok(state, request.COOKIES.get(config.cookie_name), time.time(), config.cookie_age)


def bound_cookie_valid(request: HttpRequest, session: SessionBase) -> bool:
    """False when ``session`` is device-bound and ``request`` lacks a valid, unexpired bound cookie.

    True for sessions that are not device-bound and whenever DBSC is off (so turning it off never
    locks anyone out). A refusal carries the reason ``REASON``. Cost for a bound session: one HMAC.
    """
    return _cookie_valid(request, session.get(SESSION_KEY))


async def abound_cookie_valid(request: HttpRequest, session: SessionBase) -> bool:
    """``bound_cookie_valid`` through the async session API."""
    return _cookie_valid(request, await session.aget(SESSION_KEY))


def is_device_bound(session: SessionBase) -> bool:
    """True when ``session`` has registered a device key (the engine may then skip the IP check)."""
    return protocol.is_registered(session.get(SESSION_KEY))


async def ais_device_bound(session: SessionBase) -> bool:
    """``is_device_bound`` through the async session API."""
    return protocol.is_registered(await session.aget(SESSION_KEY))


# A concurrent registration --------------------------------------------------------------------


def _store(key: str) -> SessionBase:
    # A new store of the configured engine, made as Django's SessionMiddleware makes one (the
    # session at hand may be wrapped, as Channels wraps it in a LazyObject).
    return import_module(settings.SESSION_ENGINE).SessionStore(key)  # type: ignore[no-any-return]


def _registered(state: Any) -> protocol.State | None:
    return dict(state) if protocol.is_registered(state) else None


def stored_registration(session: SessionBase) -> protocol.State | None:
    """The registered device-bound state that the store holds under ``session``'s key now, else None.

    Read afresh (one more load). Django saves a session whole and the last writer wins: a request
    that read the session before a concurrent registration, and saves it, would otherwise remove
    the registration, and with it the need for a bound cookie.
    """
    key = session.session_key
    return None if key is None else _registered(_store(key).get(SESSION_KEY))


async def astored_registration(session: SessionBase) -> protocol.State | None:
    """``stored_registration`` through the async session API."""
    key = session.session_key
    return None if key is None else _registered(await _store(key).aget(SESSION_KEY))


# The end ---------------------------------------------------------------------------------------


def unbind(session: SessionBase) -> None:
    """Forget the session's device key, so that the next invitation can bind it anew (after a new login)."""
    session.pop(SESSION_KEY, None)


async def aunbind(session: SessionBase) -> None:
    """``unbind`` through the async session API."""
    await session.apop(SESSION_KEY, None)


def end_session(response: HttpResponseBase) -> None:
    """Make the browser end its device-bound session; call on the response of a logout or flush.

    Expires the bound cookie, so the browser's next request in scope waits for a refresh; the
    refresh endpoint, finding no device-bound session behind the identifier, answers
    ``{"continue": false}`` (draft, "JSON Session Instruction Format"), and the browser removes
    the session and stops refreshing. (``Clear-Site-Data: "cookies"`` would also end it, but
    deletes every cookie of the site.)
    """
    config = get_config().dbsc
    if config.enabled:
        response.delete_cookie(config.cookie_name, path="/")
