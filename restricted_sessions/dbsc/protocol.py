"""Device Bound Session Credentials (W3C DBSC draft, w3c.github.io/webappsec-dbsc), the server's part.

Pure functions: headers in and out, the proof JWT, challenges, the bound cookie and the session
instructions JSON. No request, no response, no I/O; the time is passed in (seconds since the epoch).
A device-bound session's state is one JSON-serializable dict kept in the Django session:

    {"challenges": [[challenge, issued_at], ...],   # newest first, at most two
     "id": session identifier, "alg": "ES256", "jwk": {public JWK},   # once registered
     "registered_at": seconds since the epoch}

JOSE comes from joserfc, the optional extra ``restricted_sessions[dbsc]``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeGuard

from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import constant_time_compare

from restricted_sessions.dbsc import sfv

REGISTRATION_HEADER = "Secure-Session-Registration"
CHALLENGE_HEADER = "Secure-Session-Challenge"
RESPONSE_HEADER = "Secure-Session-Response"
SESSION_ID_HEADER = "Sec-Secure-Session-Id"
PROOF_TYPE = "dbsc+jwt"
# The largest proof read: an RS256 registration proof with a 4096-bit key is about 1.5 KB.
MAX_PROOF_LENGTH = 8192
MAX_CHALLENGE_LENGTH = 256
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
COOKIE_SALT = "restricted_sessions.dbsc.bound-cookie"
# Seconds a bound cookie stays valid on the server after the browser drops it: covers the trip of a
# request sent just before expiry and clock differences between app servers.
COOKIE_LEEWAY = 10
# Seconds after registration during which a request without a bound cookie is let through: requests
# the browser sent before it had the registration answer (Chromium fetches a page's resources
# meanwhile) must not be refused.
REGISTRATION_GRACE = 10
INSTALL_HINT = 'DBSC needs joserfc: pip install "restricted_sessions[dbsc]"'

State = dict[str, Any]


# Challenges ------------------------------------------------------------------------------------


def issue_challenge(state: Mapping[str, Any] | None, now: float) -> tuple[State, str]:
    """Return (new state, challenge): a fresh random challenge, keeping exactly one previous one.

    The previous challenge stays answerable because a proof of it may arrive after the next one
    was issued (draft, "Server considerations"); anything older is dropped.
    """
    challenge = secrets.token_urlsafe(32)
    kept = [[c, issued_at] for c, issued_at in _challenges(state)[:1]]
    return {**(state or {}), "challenges": [[challenge, now], *kept]}, challenge


def current_challenge(state: Mapping[str, Any] | None, now: float, max_age: int) -> str | None:
    """The newest challenge if it was issued less than ``max_age`` seconds ago (and not answered yet)."""
    newest = _challenges(state)[:1]
    return newest[0][0] if newest and 0 <= now - newest[0][1] < max_age else None


def take_challenge(state: Mapping[str, Any], answered: str, now: float, max_age: int) -> State | None:
    """The state without ``answered`` if it is a challenge issued less than ``max_age`` seconds ago.

    None when it is not one (unknown, expired or already used): each challenge is answered once.
    """
    kept, found = [], False
    for challenge, issued_at in _challenges(state):
        if not found and constant_time_compare(challenge, answered) and 0 <= now - issued_at < max_age:
            found = True
        else:
            kept.append([challenge, issued_at])
    return {**state, "challenges": kept} if found else None


def _challenges(state: Mapping[str, Any] | None) -> list[tuple[str, float]]:
    entries = state.get("challenges") if isinstance(state, Mapping) else None
    if not isinstance(entries, list):
        return []
    return [
        (entry[0], float(entry[1]))
        for entry in entries
        if isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[0], str)
        and isinstance(entry[1], int | float) and not isinstance(entry[1], bool)
    ]


def is_registered(state: Any) -> TypeGuard[Mapping[str, Any]]:
    """True when ``state`` belongs to a session bound to a device key."""
    return isinstance(state, Mapping) and isinstance(state.get("id"), str) and isinstance(state.get("jwk"), dict)


def new_session_identifier() -> str:
    """A fresh session identifier: 128 random bits, spelled so that it is also a valid sf-token."""
    return "s" + secrets.token_hex(16)


# Headers ---------------------------------------------------------------------------------------


def registration_header(algorithms: Sequence[str], path: str, challenge: str) -> str:
    """``Secure-Session-Registration`` value: ``(ES256 RS256);path="...";challenge="..."``."""
    return sfv.inner_list(algorithms, [("path", path), ("challenge", challenge)])


def challenge_header(challenge: str, session_id: str) -> str:
    """``Secure-Session-Challenge`` value: ``"challenge";id="session identifier"``."""
    return sfv.string(challenge) + sfv.parameters([("id", session_id)])


# Session instructions (the JSON body of registration and refresh answers) ---------------------


def instructions(session_id: str, refresh_url: str, cookie_name: str, cookie_attributes: str) -> dict[str, Any]:
    """The session configuration: origin-scoped (the origin of the URL that serves it), one bound cookie."""
    return {
        "session_identifier": session_id,
        "refresh_url": refresh_url,
        "scope": {"include_site": False},
        "credentials": [{"type": "cookie", "name": cookie_name, "attributes": cookie_attributes}],
    }


def termination(session_id: str) -> dict[str, Any]:
    """The instructions that end the browser's session (``"continue": false``)."""
    return {"session_identifier": session_id, "continue": False}


# Proofs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """A verified DBSC proof: its algorithm, the public JWK it was checked with, its ``jti``."""

    alg: str
    jwk: dict[str, Any]
    jti: str


def read_registration_proof(value: str | None, algorithms: Sequence[str]) -> Proof | None:
    """Verify a registration proof signed by the key in its own ``jwk`` header; None if it is not one.

    Checked: the header is an sf-string or sf-token of at most MAX_PROOF_LENGTH characters; the JWT
    header has ``typ`` "dbsc+jwt", an ``alg`` among ``algorithms`` and a public ``jwk`` of that
    algorithm's type (P-256 for ES256, RSA of 2048 to 8192 bits for RS256); the signature verifies;
    the claims are a JSON object with a string ``jti``.
    """
    token = _token(value)
    header = _header(token) if token else None
    if token is None or header is None or header.get("alg") not in algorithms:
        return None
    jwk = header.get("jwk")
    key = _public_key(jwk, header["alg"]) if isinstance(jwk, dict) else None
    if key is None:
        return None
    return _verify(token, key, header["alg"])


def read_refresh_proof(value: str | None, alg: str, jwk: Mapping[str, Any]) -> Proof | None:
    """Verify a refresh proof against the registered ``jwk`` and ``alg``; None if it does not verify.

    A ``jwk`` in the proof's header is never used: only the key registered with the session counts.
    """
    token = _token(value)
    header = _header(token) if token else None
    if token is None or header is None or header.get("alg") != alg:
        return None
    key = _public_key(jwk, alg)
    return _verify(token, key, alg) if key is not None else None


@lru_cache(maxsize=1)
def _jose() -> tuple[Any, Any, type[Exception], Any]:
    """joserfc's jwk and jws modules, its base error and a JWS registry sized for DBSC proofs.

    ImproperlyConfigured naming the extra when joserfc is missing.
    """
    try:
        from joserfc import jwk, jws
        from joserfc.errors import JoseError
    except ImportError as exc:
        raise ImproperlyConfigured(INSTALL_HINT) from exc

    class Registry(jws.JWSRegistry):
        # joserfc's 512-byte header limit is too small for an RSA key in the header.
        max_header_length = MAX_PROOF_LENGTH
        max_payload_length = 2048
        max_signature_length = 2048

    # Not strict about header names: the draft lists the fields a proof has "at least".
    return jwk, jws, JoseError, Registry(strict_check_header=False)


def _token(value: str | None) -> str | None:
    if value is None or len(value) > MAX_PROOF_LENGTH + 2:
        return None
    token = sfv.parse_text_item(value)
    return token if token and token.count(".") == 2 else None


def _header(token: str) -> dict[str, Any] | None:
    _, jws, jose_error, registry = _jose()
    try:
        header = jws.extract_compact(token.encode("ascii"), registry=registry).protected
    except (jose_error, ValueError, TypeError, UnicodeError, RecursionError):
        # RecursionError: JSON nested deeper than the parser goes (a few kB of "[").
        return None
    return header if isinstance(header, dict) and header.get("typ") == PROOF_TYPE else None


def _public_key(jwk: Mapping[str, Any], alg: str) -> Any:
    jwk_module, _, jose_error, _ = _jose()
    fields = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "n", "e")}
    if "d" in jwk or not all(isinstance(v, str) for v in fields.values()):
        return None
    if alg == "ES256" and not (fields.get("kty") == "EC" and fields.get("crv") == "P-256"):
        return None
    if alg == "RS256" and not (fields.get("kty") == "RSA" and MIN_RSA_BITS <= _bits(fields.get("n")) <= MAX_RSA_BITS):
        return None
    try:
        return jwk_module.import_key(fields)
    except (jose_error, ValueError, TypeError, KeyError):
        return None


def _bits(modulus: Any) -> int:
    """The bit length of a base64url-encoded RSA modulus; 0 when it is not one."""
    try:
        return int.from_bytes(base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))).bit_length()
    except (TypeError, ValueError):
        return 0


def _verify(token: str, key: Any, alg: str) -> Proof | None:
    _, jws, jose_error, registry = _jose()
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[alg], registry=registry)
        claims = json.loads(verified.payload)
    except (jose_error, ValueError, TypeError, UnicodeError, RecursionError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_CHALLENGE_LENGTH:
        return None
    return Proof(alg=alg, jwk=key.as_dict(private=False), jti=jti)


# The bound cookie ------------------------------------------------------------------------------


def make_bound_cookie(session_id: str) -> str:
    """A bound cookie value for device-bound session ``session_id``, signed with SECRET_KEY (Django signing)."""
    return signing.TimestampSigner(salt=COOKIE_SALT).sign(session_id)


def bound_cookie_matches(value: str | None, session_id: str, max_age: int) -> bool:
    """True when ``value`` is a bound cookie made for ``session_id`` less than ``max_age`` seconds ago.

    SECRET_KEY_FALLBACKS are honoured, so rotating the secret does not lock browsers out.
    """
    if not value or len(value) > 512:
        return False
    try:
        signed_id = signing.TimestampSigner(salt=COOKIE_SALT).unsign(value, max_age=max_age)
    except signing.BadSignature:
        return False
    return constant_time_compare(signed_id, session_id)


def bound_cookie_ok(state: Mapping[str, Any] | None, value: str | None, now: float, cookie_age: int) -> bool:
    """The enforcement rule: False only for a device-bound ``state`` without a valid bound cookie ``value``.

    A cookie is valid for ``cookie_age`` + COOKIE_LEEWAY seconds; none is needed during the first
    REGISTRATION_GRACE seconds after registration.
    """
    if not is_registered(state):
        return True
    if bound_cookie_matches(value, state["id"], cookie_age + COOKIE_LEEWAY):
        return True
    registered_at = state.get("registered_at")
    return isinstance(registered_at, int | float) and 0 <= now - registered_at < REGISTRATION_GRACE


def cookie_attributes(samesite: str | None) -> str:
    """The attribute string of the bound cookie, as set and as announced in the instructions."""
    return "Path=/; Secure; HttpOnly" + (f"; SameSite={samesite}" if samesite else "")
