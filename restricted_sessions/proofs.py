"""The I/O shell of DPoP for header sessions: read the ``DPoP`` header, verify it, answer its errors.

The middleware calls ``check``/``acheck`` before it examines the session. A valid proof's key
thumbprint is kept on the request for ``clients.presented``; the pure decision then compares it with
the session's binding. A proof that fails verification is answered here with 401 and a ``DPoP``
challenge (RFC 9449 sections 7.1, 8 and 9), before the session is touched, so neither a broken
client nor a nonce round trip ends a session. ``restricted_sessions.dpop`` (joserfc, the ``[dpop]``
extra) is imported only when RESTRICTEDSESSIONS_DPOP is on.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse

from restricted_sessions.conf import Config
from restricted_sessions.headers import header

__all__ = ["PROOF_ATTRIBUTE", "acheck", "challenge_response", "check", "proof_key"]

#: Where ``clients.presented`` finds the thumbprint of the request's verified proof.
PROOF_ATTRIBUTE = "_restricted_sessions_dpop_jkt"
DPOP_META_KEY = "HTTP_DPOP"


def proof_key(request: HttpRequest) -> str | None:
    """The RFC 7638 thumbprint of the key of the request's verified DPoP proof, or None."""
    jkt = getattr(request, PROOF_ATTRIBUTE, None)
    return jkt if isinstance(jkt, str) else None


def _applies(request: HttpRequest, config: Config) -> bool:
    # Proofs bind header sessions: a cookie session is left to the IP/User-Agent binding and DBSC.
    return config.dpop_mode != "off" and getattr(getattr(request, "session", None), "csrf_exempt", False) is True


def challenge_response(config: Config, error: str | None, description: str | None = None) -> HttpResponse:
    """401 with ``WWW-Authenticate: DPoP ...``; with ``use_dpop_nonce``, a fresh ``DPoP-Nonce``."""
    from restricted_sessions import dpop

    response = HttpResponse(status=401)
    response["WWW-Authenticate"] = dpop.www_authenticate(error, config.dpop_algorithms, description)
    if error == dpop.USE_NONCE:
        response[dpop.NONCE_HEADER] = dpop.new_nonce()
    response["Cache-Control"] = "no-store"
    return response


def _verify(request: HttpRequest, config: Config, raw: str) -> Any:
    """The verified ``dpop.Proof``, or the 401 response for a refused one."""
    from restricted_sessions import dpop
    from restricted_sessions.uris import request_htu

    url = request_htu(request)
    if url is None:
        return challenge_response(config, dpop.INVALID_PROOF, "The request's host is not allowed.")
    leeway = config.dpop_iat_leeway
    try:
        return dpop.verify_proof(
            raw,
            method=request.method or "",
            url=url,
            session_key=request.session.session_key,
            algorithms=config.dpop_algorithms,
            iat_leeway=leeway,
            now=time.time(),
            nonce_required=config.dpop_nonce,
            nonce_ok=lambda nonce: dpop.nonce_is_valid(nonce, max_age=leeway),
        )
    except dpop.InvalidProof as refused:
        return challenge_response(config, refused.error, refused.description)


def _proof_or_response(request: HttpRequest, config: Config) -> Any:
    raw = header(request, DPOP_META_KEY)
    if raw is None:
        if config.dpop_mode == "required":
            return challenge_response(config, None)
        return None
    return _verify(request, config, raw)


def check(request: HttpRequest, config: Config) -> HttpResponse | None:
    """Verify the request's DPoP proof; a 401 response when it is refused, else None.

    A verified proof's key thumbprint is kept on the request; its ``jti`` is recorded in
    RESTRICTEDSESSIONS_CACHE so the proof works once (RFC 9449 section 11.1).
    """
    if not _applies(request, config):
        return None
    from restricted_sessions import dpop

    found = _proof_or_response(request, config)
    if found is None or isinstance(found, HttpResponse):
        return found
    if not dpop.JtiStore(config.cache_alias).use(found, leeway=config.dpop_iat_leeway, now=time.time()):
        return challenge_response(config, dpop.INVALID_PROOF, "The DPoP proof was used before.")
    setattr(request, PROOF_ATTRIBUTE, found.jkt)
    return None


async def acheck(request: HttpRequest, config: Config) -> HttpResponse | None:
    """``check`` with the cache's async API."""
    if not _applies(request, config):
        return None
    from restricted_sessions import dpop

    found = _proof_or_response(request, config)
    if found is None or isinstance(found, HttpResponse):
        return found
    if not await dpop.JtiStore(config.cache_alias).ause(found, leeway=config.dpop_iat_leeway, now=time.time()):
        return challenge_response(config, dpop.INVALID_PROOF, "The DPoP proof was used before.")
    setattr(request, PROOF_ATTRIBUTE, found.jkt)
    return None
