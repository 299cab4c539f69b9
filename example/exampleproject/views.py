"""Pages for browsers and a small JSON API for header clients.

The JSON API needs no ``csrf_exempt``: restricted_sessions' CsrfViewMiddleware skips the CSRF
check for requests whose session came from the ``X-SessionID`` header (a browser never sends that
header on its own, so a cross-site form cannot ride on it) and enforces it for cookie sessions.

A cookieless client therefore starts in two steps:

1. ``GET /api/login/`` with an empty ``X-SessionID`` (which asks for a header session). The view
   stores a timestamp in a new session, so the response carries the new key in ``X-SessionID``
   (and in a cookie, which this client ignores). A client that sends neither cookie nor header
   gets the key in a cookie only, so that a browser's script never reads it.
2. ``POST /api/login/`` with ``X-SessionID: <key>`` and a JSON body
   ``{"username": ..., "password": ...}``. A header session skips CSRF; the login cycles the key
   and the response carries the new one.

From then on it sends ``X-SessionID`` on every request, replaces its key whenever a response
carries a new one, and drops it when a response carries the header with an empty value.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from joserfc.jwk import JWKRegistry

from restricted_sessions.binding import UNBOUND
from restricted_sessions.conf import get_config
from restricted_sessions.dbsc import protocol as dbsc_protocol
from restricted_sessions.dbsc import session as dbsc_session


def session_info(request: HttpRequest) -> dict[str, Any]:
    """What the pages and the API show: the user and what the session is bound to.

    The binding is one session key, ``_restrictedsessions`` = ``"1|<ip>|<ip2>|<ua>"``: the
    address as text (a digest with STORE="hashed"), and a digest of the User-Agent.
    """
    user = request.user
    policy = get_config().policy
    binding = policy.read(request.session.get)
    client_ua = request.headers.get("User-Agent")
    return {
        "user": user.get_username() if user.is_authenticated else None,
        "bound_ip": None if binding.ip is UNBOUND else binding.ip,
        "bound_ip2": None if binding.ip2 is UNBOUND else binding.ip2,
        "bound_ua": None if binding.ua is UNBOUND else binding.ua,
        # Whether the bound User-Agent digest is that of this request's User-Agent.
        "ua_is_bound": binding.ua is not UNBOUND and binding.ua == policy.ua_token(client_ua),
        "client_ip": request.META.get("REMOTE_ADDR"),
        "client_ua": client_ua,
        "header_session": request.session.csrf_exempt,  # type: ignore[attr-defined]
    }


def device_binding(request: HttpRequest) -> dict[str, str] | None:
    """The session's device binding (DBSC), or None when no browser key is registered.

    ``id``: the device-bound session's identifier; ``alg`` and ``key``: the browser's public key as
    registered (its type, curve and RFC 7638 thumbprint). The private key never leaves the browser.
    """
    state = request.session.get(dbsc_session.SESSION_KEY)
    if not dbsc_protocol.is_registered(state):
        return None
    jwk = state["jwk"]
    try:
        thumbprint = JWKRegistry.import_key(jwk).thumbprint()
    except ValueError:
        thumbprint = "?"
    return {
        "id": str(state["id"]),
        "alg": str(state.get("alg")),
        "key": f"{jwk.get('kty')} {jwk.get('crv', '')} thumbprint {thumbprint}".replace("  ", " "),
    }


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Readiness probe for scripts: touches neither the session nor the database."""
    return HttpResponse("ok", content_type="text/plain")


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@login_required
@require_GET
def session_page(request: HttpRequest) -> HttpResponse:
    return render(request, "session.html", {"info": session_info(request), "device": device_binding(request)})


def json_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@require_http_methods(["GET", "POST"])
def api_login(request: HttpRequest) -> JsonResponse:
    """GET starts a session, so a cookieless client gets a key; POST logs in with JSON."""
    if request.method == "GET":
        request.session.setdefault("started_at", timezone.now().isoformat())
        return JsonResponse({"detail": "session started; POST username and password here", **session_info(request)})
    data = json_body(request)
    if data is None or not isinstance(data.get("username"), str) or not isinstance(data.get("password"), str):
        return JsonResponse({"error": 'expected a JSON object {"username": ..., "password": ...}'}, status=400)
    user = authenticate(request, username=data["username"], password=data["password"])
    if user is None:
        return JsonResponse({"error": "invalid credentials"}, status=401)
    login(request, user)
    return JsonResponse(session_info(request))


@require_GET
def api_me(request: HttpRequest) -> JsonResponse:
    """The current user and binding; 401 when the session is not logged in."""
    info = session_info(request)
    return JsonResponse(info, status=200 if info["user"] else 401)


@require_POST
def api_logout(request: HttpRequest) -> JsonResponse:
    logout(request)
    return JsonResponse({"user": None})
