"""Short-lived, single-use tickets: how a cookieless client takes its session to a WebSocket.

A browser cannot set custom headers on a WebSocket handshake, so a client that keeps its session
key in ``X-SessionID`` asks an HTTP view for a ticket and opens the WebSocket with ``?ticket=...``.
A ticket names the session, is bound to the IP address and User-Agent that asked for it (by the
binding rules of the settings), is valid for ``TICKET_MAX_AGE`` seconds and works once.

The ticket itself is a random id, signed with a timestamp; the session key stays in the cache
that RESTRICTEDSESSIONS_CACHE names (shared by every server process) and never appears in a URL.
Plain Django: nothing here needs Channels.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

from django.core import signing
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST

from restricted_sessions.binding import REASON_IP, UNBOUND, decide, parse
from restricted_sessions.changes import escaped
from restricted_sessions.clients import presented
from restricted_sessions.conf import get_config
from restricted_sessions.proofs import PROOF_ATTRIBUTE

__all__ = ["TICKET_MAX_AGE", "TICKET_PARAMETER", "aissue_ticket", "aredeem_ticket", "issue_ticket", "ticket_view"]

logger = logging.getLogger("restricted_sessions")

#: The query-string parameter that carries a ticket.
TICKET_PARAMETER = "ticket"
#: Seconds a ticket stays valid.
TICKET_MAX_AGE = 30

_SALT = "restricted_sessions.tickets"
_CACHE_PREFIX = "restricted_sessions:ticket:"
# A signed ticket is about 60 characters; longer values are refused before any signature work.
_MAX_TICKET_LENGTH = 200


def issue_ticket(request: HttpRequest) -> str:
    """A ticket for the request's session; ``PermissionDenied`` when the request has none."""
    request.session.keys()  # Loads the session: an unknown key becomes None.
    ticket_id, value = _new_ticket(request)
    caches[get_config().cache_alias].set(_CACHE_PREFIX + ticket_id, value, TICKET_MAX_AGE)
    return _sign(ticket_id)


async def aissue_ticket(request: HttpRequest) -> str:
    """``issue_ticket`` for async views: uses the async session and cache APIs."""
    await request.session.akeys()
    ticket_id, value = _new_ticket(request)
    await caches[get_config().cache_alias].aset(_CACHE_PREFIX + ticket_id, value, TICKET_MAX_AGE)
    return _sign(ticket_id)


@require_POST
def ticket_view(request: HttpRequest) -> HttpResponse:
    """POST: ``{"ticket": "...", "expires_in": 30}``, or 403 when the request has no session.

    Mount it behind the library's middleware; a cookie session needs a CSRF token as for any
    POST, a header session does not.
    """
    try:
        ticket = issue_ticket(request)
    except PermissionDenied:
        return JsonResponse({"detail": "No session: log in first."}, status=403)
    response = JsonResponse({"ticket": ticket, "expires_in": TICKET_MAX_AGE})
    patch_cache_control(response, private=True, no_store=True)
    return response


async def aredeem_ticket(ticket: str, request: HttpRequest) -> str | None:
    """The session key a ticket names, once; None when it is forged, expired, used or moved.

    ``request`` describes the client that presents the ticket (its address and User-Agent are
    compared with those of the client that asked for it).
    """
    if len(ticket) > _MAX_TICKET_LENGTH:
        return None
    try:
        ticket_id = signing.TimestampSigner(salt=_SALT).unsign(ticket, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    config = get_config()
    cache = caches[config.cache_alias]
    cache_key = _CACHE_PREFIX + ticket_id
    value = await cache.aget(cache_key)
    # Only the request that deletes the entry may use it: two concurrent uses cannot both win.
    if not isinstance(value, dict) or not await cache.adelete(cache_key):
        return None
    binding = parse(value.get("binding"))
    # Strictly: a ticket never binds a second address family on first use.
    # The ticket stands for the proof it was asked with: only the address and User-Agent are compared.
    outcome = decide(config.policy, replace(binding, jkt=UNBOUND), presented(request, config), bind_other_family=False)
    if outcome.reason is not None:
        logger.warning(
            "WebSocket ticket refused: the %s differs from the client that asked for it (path %s).",
            "IP address" if outcome.reason == REASON_IP else "User-Agent",
            escaped(request.path),
            extra={"reason": outcome.reason, "path": escaped(request.path)},
        )
        return None
    if binding.jkt is not UNBOUND:
        # The ticket was asked for with a valid DPoP proof: the WebSocket, which cannot send one,
        # presents that proof's key through the ticket.
        setattr(request, PROOF_ATTRIBUTE, binding.jkt)
    return str(value["key"])


def _new_ticket(request: HttpRequest) -> tuple[str, dict[str, str]]:
    key = request.session.session_key
    if key is None:
        raise PermissionDenied("A ticket needs a session.")
    config = get_config()
    # The binding's stored form: hashed with STORE="hashed", so the cache holds no address.
    client = presented(request, config)
    binding = replace(config.policy.new_binding(client), jkt=UNBOUND if client.jkt is None else client.jkt)
    return secrets.token_urlsafe(24), {"key": key, "binding": binding.encode()}


def _sign(ticket_id: str) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(ticket_id)
