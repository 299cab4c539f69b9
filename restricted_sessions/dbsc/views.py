"""The registration and refresh endpoints of DBSC, as sync and async views sharing one pure core.

``answer_registration`` and ``answer_refresh`` decide (state and headers in, ``Answer`` out); the
views only load and store the state and build the response. They read headers and never the body,
so a huge body costs nothing, and every malformed input gets a 4xx answer, never an exception.

CSRF: both views are ``csrf_exempt`` because they act only on a proof signed by the device's private
key over a challenge that only the session's owner was sent; a cross-site form or fetch can carry
neither. They are also ``restriction_exempt``: the proof is a stronger check than the IP/User-Agent
binding, and a refresh refused by the engine's 4xx would make the browser end its session.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from django.conf import settings
from django.core.cache import caches
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from restricted_sessions.conf import get_config
from restricted_sessions.dbsc import protocol, sfv
from restricted_sessions.dbsc.conf import DbscSettings
from restricted_sessions.dbsc.session import SESSION_KEY, endpoint_path
from restricted_sessions.decorators import restriction_exempt
from restricted_sessions.middleware import ON_INTERRUPTED_ATTRIBUTE


@dataclass(frozen=True)
class Answer:
    """What an endpoint answers: status, JSON body, the state to store, headers, a bound cookie to set."""

    status: int
    body: dict[str, Any] | None = None
    state: protocol.State | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None
    #: The challenge a proof answered: the view records it as used (once, atomically) before
    #: the answer stands, so that a stale concurrent save of the session cannot revive it.
    answered: str | None = None
    #: The current challenge, offered again (a refresh without a proof): the view checks that a
    #: stale save did not revive it after it was answered.
    offered: str | None = None


def answer_registration(proof_header: str | None, state: Any, now: float, config: DbscSettings) -> Answer:
    """Register the key of a proof that answers the session's pending challenge (draft "Create session").

    400 for a missing or invalid proof, a challenge that is not pending, or a session already bound
    (a device-bound session never takes a second key).
    """
    if not isinstance(state, dict) or protocol.is_registered(state):
        return Answer(400)
    proof = protocol.read_registration_proof(proof_header, config.algorithms)
    if proof is None or protocol.take_challenge(state, proof.jti, now, config.challenge_age) is None:
        return Answer(400)
    session_id = protocol.new_session_identifier()
    renewed = _renewed({"id": session_id, "alg": proof.alg, "jwk": proof.jwk, "registered_at": now}, now, config)
    return replace(renewed, answered=proof.jti)


def answer_refresh(
    id_header: str | None, proof_header: str | None, state: Any, now: float, config: DbscSettings
) -> Answer:
    """Issue a new bound cookie for a proof of a recent challenge by the registered key.

    No identifier: 400. An identifier this session is not bound to (logged out, flushed, another
    registration): 200 ``{"continue": false}``, which ends the browser's session. No proof: 403 with
    the current challenge while it is unexpired (so that anyone holding a copy of the session cookie
    cannot void the challenge the browser is signing), else a new one. A proof that does not
    verify: 400. A proof of a challenge that is not current (the previous one is still current,
    once), expired or used: 403 with a new challenge.
    """
    session_id = sfv.parse_text_item(id_header)
    if session_id is None:
        return Answer(400)
    if not protocol.is_registered(state) or state["id"] != session_id:
        return Answer(200, protocol.termination(session_id))
    if proof_header is None:
        current = protocol.current_challenge(state, now, config.challenge_age)
        if current is not None:
            header = protocol.challenge_header(current, state["id"])
            return Answer(403, headers={protocol.CHALLENGE_HEADER: header}, offered=current)
        return challenged(state, now)
    proof = protocol.read_refresh_proof(proof_header, state["alg"], state["jwk"])
    if proof is None:
        return Answer(400)
    taken = protocol.take_challenge(state, proof.jti, now, config.challenge_age)
    if taken is None:
        return challenged(state, now)
    return replace(_renewed(taken, now, config), answered=proof.jti)


def challenged(state: Mapping[str, Any], now: float) -> Answer:
    """403 with a new challenge (kept in the state with one previous one)."""
    state, challenge = protocol.issue_challenge(state, now)
    header = protocol.challenge_header(challenge, state["id"])
    return Answer(403, state=state, headers={protocol.CHALLENGE_HEADER: header})


def _renewed(state: protocol.State, now: float, config: DbscSettings) -> Answer:
    # A challenge for the next refresh rides along: the browser caches it and may skip a 403 round trip.
    state, challenge = protocol.issue_challenge(state, now)
    body = protocol.instructions(
        state["id"], endpoint_path("refresh"), config.cookie_name, protocol.cookie_attributes(_samesite())
    )
    return Answer(
        200,
        body,
        state=state,
        headers={protocol.CHALLENGE_HEADER: protocol.challenge_header(challenge, state["id"])},
        cookie=protocol.make_bound_cookie(state["id"]),
    )


def _samesite() -> str | None:
    value = settings.SESSION_COOKIE_SAMESITE
    return str(value) if value else None


def _response(answer: Answer, config: DbscSettings, expiry_age: int) -> HttpResponseBase:
    response = HttpResponse() if answer.body is None else JsonResponse(answer.body)
    response.status_code = answer.status
    for name, value in answer.headers.items():
        response[name] = value
    if answer.cookie is not None:
        response.set_cookie(
            config.cookie_name,
            answer.cookie,
            max_age=max(0, min(config.cookie_age, expiry_age)),
            path="/",
            secure=True,
            httponly=True,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )
    patch_cache_control(response, no_store=True)
    return response


logger = logging.getLogger("restricted_sessions")

# Used challenges are recorded under a digest: nothing the client sent becomes a cache key.
USED_CHALLENGE_PREFIX = "restricted_sessions:dbsc:used:"


def _used_key(challenge: str) -> str:
    digest = hashlib.sha256(challenge.encode("utf-8", "surrogatepass")).digest()
    return USED_CHALLENGE_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


CACHE_DOWN = "RESTRICTEDSESSIONS_CACHE cannot be reached: DBSC challenges are checked against the session only."


def _first_use(answer: Answer, config: DbscSettings) -> bool:
    """Whether ``answer`` stands: the challenge it accepted was never answered before (``cache.add``,
    atomic), and the challenge it offers again was not answered meanwhile.

    The challenges live in the session, whose last writer wins: a request that read the session
    before the answer and saves it after would put the answered challenge back. A cache that
    cannot be reached leaves the session's own record to decide (logged), as before.
    """
    try:
        cache = caches[get_config().cache_alias]
        if answer.answered is not None:
            return bool(cache.add(_used_key(answer.answered), 1, config.challenge_age + 1))
        if answer.offered is not None:
            return cache.get(_used_key(answer.offered)) is None
    except Exception:
        logger.warning(CACHE_DOWN, exc_info=True)
    return True


async def _afirst_use(answer: Answer, config: DbscSettings) -> bool:
    """``_first_use`` through the cache's async API."""
    try:
        cache = caches[get_config().cache_alias]
        if answer.answered is not None:
            return bool(await cache.aadd(_used_key(answer.answered), 1, config.challenge_age + 1))
        if answer.offered is not None:
            return await cache.aget(_used_key(answer.offered)) is None
    except Exception:
        logger.warning(CACHE_DOWN, exc_info=True)
    return True


def _end_if_interrupted(request: HttpRequest, state: protocol.State, config: DbscSettings) -> None:
    # A logout in a concurrent request may delete the session before this answer saves it: the
    # device-bound session has ended, so the browser is told so instead of getting Django's 400.
    session_id = str(state["id"])
    answer = Answer(200, protocol.termination(session_id))
    setattr(request, ON_INTERRUPTED_ATTRIBUTE, lambda: _response(answer, config, 0))


def _config() -> DbscSettings:
    config = get_config().dbsc
    if not config.enabled:
        raise Http404("DBSC is off")
    return config


@csrf_exempt
@restriction_exempt
@require_POST
def registration(request: HttpRequest) -> HttpResponseBase:
    """POST, ``Secure-Session-Response``: register the device key; 200 with the instructions and a bound cookie."""
    config = _config()
    answer = answer_registration(
        request.headers.get(protocol.RESPONSE_HEADER), request.session.get(SESSION_KEY), time.time(), config
    )
    if not _first_use(answer, config):
        answer = Answer(400)
    if answer.state is not None:
        request.session[SESSION_KEY] = answer.state
    return _response(answer, config, request.session.get_expiry_age())


@csrf_exempt
@restriction_exempt
@require_POST
def refresh(request: HttpRequest) -> HttpResponseBase:
    """POST, ``Sec-Secure-Session-Id`` and maybe ``Secure-Session-Response``: a new bound cookie or a challenge."""
    config = _config()
    state, now = request.session.get(SESSION_KEY), time.time()
    answer = answer_refresh(
        request.headers.get(protocol.SESSION_ID_HEADER),
        request.headers.get(protocol.RESPONSE_HEADER),
        state,
        now,
        config,
    )
    if not _first_use(answer, config):
        answer = challenged(cast(protocol.State, state), now)  # a proof or an offer: the state is registered
    if answer.state is not None:
        request.session[SESSION_KEY] = answer.state
        _end_if_interrupted(request, answer.state, config)
    return _response(answer, config, request.session.get_expiry_age())


@csrf_exempt
@restriction_exempt
@require_POST
async def aregistration(request: HttpRequest) -> HttpResponseBase:
    """``registration`` as an async view (Django's async session API, no thread)."""
    config = _config()
    answer = answer_registration(
        request.headers.get(protocol.RESPONSE_HEADER), await request.session.aget(SESSION_KEY), time.time(), config
    )
    if not await _afirst_use(answer, config):
        answer = Answer(400)
    if answer.state is not None:
        await request.session.aset(SESSION_KEY, answer.state)
    return _response(answer, config, await request.session.aget_expiry_age())


@csrf_exempt
@restriction_exempt
@require_POST
async def arefresh(request: HttpRequest) -> HttpResponseBase:
    """``refresh`` as an async view (Django's async session API, no thread)."""
    config = _config()
    state, now = await request.session.aget(SESSION_KEY), time.time()
    answer = answer_refresh(
        request.headers.get(protocol.SESSION_ID_HEADER),
        request.headers.get(protocol.RESPONSE_HEADER),
        state,
        now,
        config,
    )
    if not await _afirst_use(answer, config):
        answer = challenged(cast(protocol.State, state), now)  # a proof or an offer: the state is registered
    if answer.state is not None:
        await request.session.aset(SESSION_KEY, answer.state)
        _end_if_interrupted(request, answer.state, config)
    return _response(answer, config, await request.session.aget_expiry_age())
