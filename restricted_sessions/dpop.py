"""DPoP proofs of possession for header sessions (RFC 9449), checked with joserfc.

``verify_proof`` checks one proof against the request it came with; ``JtiStore`` makes each proof
usable once; ``new_nonce``/``nonce_is_valid`` are stateless server nonces; ``www_authenticate``
builds the challenge of a refusal. Needs the ``dpop`` extra: ``pip install "restricted_sessions[dpop]"``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.signing import BadSignature, TimestampSigner

from restricted_sessions.uris import normalise_uri

try:
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey, OKPKey
    from joserfc.jws import JWSRegistry
    from joserfc.util import urlsafe_b64decode
except ImportError as error:  # pragma: no cover - exercised in a test that hides joserfc
    # The settings check (restricted_sessions.E019) says the same at start-up.
    raise ModuleNotFoundError(
        'DPoP proofs need joserfc: install the extra with pip install "restricted_sessions[dpop]".', name="joserfc"
    ) from error

__all__ = [
    "DPOP_HEADER",
    "INVALID_PROOF",
    "NONCE_HEADER",
    "SUPPORTED_ALGORITHMS",
    "USE_NONCE",
    "InvalidProof",
    "JtiStore",
    "Proof",
    "access_token_hash",
    "new_nonce",
    "nonce_is_valid",
    "verify_proof",
    "www_authenticate",
]

DPOP_HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"
INVALID_PROOF = "invalid_dpop_proof"
USE_NONCE = "use_dpop_nonce"
PROOF_TYPE = "dpop+jwt"

# Algorithm -> (key type, curve): asymmetric signatures only, one curve each (RFC 7518 3.4,
# RFC 8037 3.1, RFC 9864 2). "none", HMAC and RSA never verify a proof.
_ALGORITHMS = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
    "Ed25519": ("OKP", "Ed25519"),
}
# Those the installed joserfc implements ("Ed25519" needs a joserfc with RFC 9864).
SUPPORTED_ALGORITHMS: dict[str, tuple[str, str]] = {
    name: key for name, key in _ALGORITHMS.items() if name in JWSRegistry.algorithms
}
# A coordinate is base64url of exactly the curve's size in bytes (RFC 7518 6.2.1.2, RFC 8037 2).
_COORDINATE_LENGTH = {"P-256": 43, "P-384": 64, "P-521": 88, "Ed25519": 43}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# A proof with a P-521 key is about 700 characters; anything much longer is refused unread.
MAX_PROOF_LENGTH = 8192
MAX_CACHED_HEADER = 512
MAX_JTI_LENGTH = 256
MAX_IAT = 2**42
MAX_NONCE_LENGTH = 256
NONCE_SALT = "restricted_sessions.dpop.nonce"
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# error_description is a quoted-string without '"' and '\' (RFC 6750 section 3).
_NOT_QUOTABLE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")

Key = ECKey | OKPKey


class InvalidProof(Exception):
    """A refused proof: ``error`` is ``"invalid_dpop_proof"`` or ``"use_dpop_nonce"`` (RFC 9449 sections 7.1, 8).

    ``description`` is a fixed English text, safe to log and to send as ``error_description``; it
    never repeats anything the client sent.
    """

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class Proof:
    """A verified proof: ``jkt`` is the key's RFC 7638 SHA-256 thumbprint (base64url, 43 characters),
    ``jti`` its identifier, ``iat`` its creation time (seconds since the epoch)."""

    jkt: str
    jti: str
    iat: float


def _refuse(description: str) -> InvalidProof:
    return InvalidProof(INVALID_PROOF, description)


def access_token_hash(session_key: str) -> str:
    """The ``ath`` of a session key: base64url(SHA-256(key)), unpadded (RFC 9449 section 4.2)."""
    digest = hashlib.sha256(session_key.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    session_key: str | None,
    algorithms: Collection[str],
    iat_leeway: int,
    now: float,
    nonce_required: bool,
    nonce_ok: Callable[[str], bool] | None,
) -> Proof:
    """Check a DPoP proof per RFC 9449 section 4.3 and return what it proves.

    ``proof`` is the raw ``DPoP`` header value; ``method`` the request method; ``url`` the request
    URI (``uris.request_htu``), compared with ``htu`` in normal form; ``session_key`` the key the
    request presents (``ath`` must be its hash; ``None`` or ``""``: no key, ``ath`` not checked);
    ``algorithms`` the allowed ``alg`` values (only those in ``SUPPORTED_ALGORITHMS`` ever count);
    ``iat_leeway`` how many seconds ``iat`` may lie before or after ``now``; ``nonce_ok`` decides a
    ``nonce`` claim when ``nonce_required``.

    Raises ``InvalidProof`` and nothing else, whatever the header holds: ``use_dpop_nonce`` for an
    otherwise valid proof without an acceptable nonce, ``invalid_dpop_proof`` for anything else.
    Does not record the ``jti``: call ``JtiStore.use`` with the result.
    """
    if len(proof) > MAX_PROOF_LENGTH:
        raise _refuse("The DPoP proof is too long.")
    if "," in proof:
        raise _refuse("The request carries more than one DPoP proof.")
    if _COMPACT_JWS.fullmatch(proof) is None:
        raise _refuse("The DPoP proof is not a JWS in compact serialization.")
    header_segment, claims_segment, signature_segment = proof.split(".")
    alg, key, jkt = _header(header_segment)
    if alg not in algorithms:
        raise _refuse("The DPoP proof's alg is not allowed.")
    claims = _json_object(claims_segment)
    if claims is None:
        raise _refuse("The DPoP proof's header or claims are not a JSON object.")

    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise _refuse("The DPoP proof's jti is missing or not a string of 1 to 256 characters.")
    if claims.get("htm") != method:
        raise _refuse("The DPoP proof's htm is not the request method.")
    htu = claims.get("htu")
    expected_htu = normalise_uri(url)
    if not isinstance(htu, str) or expected_htu is None or normalise_uri(htu) != expected_htu:
        raise _refuse("The DPoP proof's htu is not the request URI.")
    iat = claims.get("iat")
    # Compared, never converted: a 4000-digit integer cannot overflow, NaN fails every comparison.
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not 0 <= iat <= MAX_IAT:
        raise _refuse("The DPoP proof's iat is missing or not a number of seconds since the epoch.")
    if abs(now - iat) > iat_leeway:
        raise _refuse("The DPoP proof's iat is outside the accepted window.")
    if session_key and claims.get("ath") != access_token_hash(session_key):
        raise _refuse("The DPoP proof's ath is not the hash of the session key.")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise _refuse("The DPoP proof's nonce is not a string.")

    if not _signature_verifies(alg, key, header_segment, claims_segment, signature_segment):
        raise _refuse("The DPoP proof's signature does not verify with its jwk.")
    if nonce_required and (nonce is None or nonce_ok is None or not nonce_ok(nonce)):
        raise InvalidProof(USE_NONCE, "The server requires a fresh nonce in the DPoP proof.")
    return Proof(jkt=jkt, jti=jti, iat=float(iat))


def _json_object(segment: str) -> dict[str, Any] | None:
    """The JSON object in a base64url segment; ``None`` for bad base64, bad JSON, duplicate names."""
    try:
        text = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8")
        value = _JSON.decode(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate member name")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Strict JSON (RFC 8259): no NaN or Infinity, and, as RFC 7515 section 5.2 allows, no duplicate names.
_JSON = json.JSONDecoder(object_pairs_hook=_unique_names, parse_constant=_no_constant)


def _header(segment: str) -> tuple[str, Key, str]:
    """``alg``, verification key and thumbprint of a proof's header (RFC 9449 section 4.3, steps 2, 4, 5, 7)."""
    # A client sends the same header with every request, and importing its key costs more than
    # verifying a signature: headers are parsed once. Longer ones than any supported key makes
    # are parsed every time, so junk cannot fill the cache with large strings.
    parsed = _parse_header(segment) if len(segment) <= MAX_CACHED_HEADER else _parse_header.__wrapped__(segment)
    if isinstance(parsed, str):
        raise _refuse(parsed)
    return parsed


@lru_cache(maxsize=1024)
def _parse_header(segment: str) -> tuple[str, Key, str] | str:
    """``(alg, key, jkt)``, or the description of the refusal."""
    header = _json_object(segment)
    if header is None:
        return "The DPoP proof's header or claims are not a JSON object."
    if header.get("typ") != PROOF_TYPE:
        return 'The DPoP proof\'s typ is not "dpop+jwt".'
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        return "The DPoP proof's alg is not allowed."
    if "crit" in header:
        return "The DPoP proof names critical extensions, which are not supported."
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        return "The DPoP proof's jwk is missing or not a JSON object."
    if not _PRIVATE_MEMBERS.isdisjoint(jwk):
        return "The DPoP proof's jwk holds private or symmetric key material."
    kty, crv = SUPPORTED_ALGORITHMS[alg]
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        return "The DPoP proof's jwk is not a key of the type and curve its alg needs."
    coordinates = (jwk.get("x"), jwk.get("y")) if kty == "EC" else (jwk.get("x"),)
    for coordinate in coordinates:
        if not (
            isinstance(coordinate, str)
            and len(coordinate) == _COORDINATE_LENGTH[crv]
            and _BASE64URL.fullmatch(coordinate) is not None
        ):
            return "The DPoP proof's jwk coordinates are malformed."
    try:
        if kty == "EC":
            key: Key = ECKey.import_key({"kty": kty, "crv": crv, "x": jwk["x"], "y": jwk["y"]})
        else:
            key = OKPKey.import_key({"kty": kty, "crv": crv, "x": jwk["x"]})
        return alg, key, key.thumbprint()
    except (JoseError, ValueError, TypeError):
        return "The DPoP proof's jwk is not a valid public key."


def _signature_verifies(alg: str, key: Key, header: str, claims: str, signature: str) -> bool:
    try:
        # Canonical base64url only: one signature, one spelling.
        signature_bytes = urlsafe_b64decode(signature.encode("ascii"))
        signing_input = f"{header}.{claims}".encode("ascii")
        return bool(JWSRegistry.algorithms[alg].verify(signing_input, signature_bytes, key))
    except (JoseError, ValueError, TypeError):
        return False


class JtiStore:
    """Each proof's ``jti`` accepted once per key (RFC 9449 section 11.1), in one of Django's caches.

    ``use`` adds an entry with ``cache.add`` (atomic on every Django backend that is shared between
    processes: database, memcached, Redis); the entry expires when the proof's ``iat`` leaves the
    window, so the store holds at most the proofs of the last ``2 * leeway`` seconds. Only a shared
    cache makes replays fail across servers. The key is ``prefix`` plus the SHA-256 of (jkt, jti)
    in base64url, so nothing the client chose reaches the cache key.
    """

    def __init__(self, alias: str = DEFAULT_CACHE_ALIAS, prefix: str = "rs.dpop.jti:") -> None:
        self.alias = alias
        self.prefix = prefix

    def entry(self, proof: Proof, *, leeway: int, now: float) -> tuple[str, int]:
        """The cache key and timeout (seconds, at least 1) that record ``proof``."""
        digest = hashlib.sha256(f"{proof.jkt}\0{proof.jti}".encode("utf-8", "surrogatepass")).digest()
        # base64url, not hex: Django checks every character of a cache key in Python, per request.
        name = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return self.prefix + name, max(1, math.ceil(proof.iat + leeway - now) + 1)

    def use(self, proof: Proof, *, leeway: int, now: float) -> bool:
        """Record ``proof``; ``True`` the first time, ``False`` for a replay."""
        key, timeout = self.entry(proof, leeway=leeway, now=now)
        return bool(caches[self.alias].add(key, 1, timeout))

    async def ause(self, proof: Proof, *, leeway: int, now: float) -> bool:
        """``use`` through the cache's async API (``cache.aadd``)."""
        key, timeout = self.entry(proof, leeway=leeway, now=now)
        return bool(await caches[self.alias].aadd(key, 1, timeout))


def _nonce_signer() -> TimestampSigner:
    return TimestampSigner(salt=NONCE_SALT)


def new_nonce() -> str:
    """A fresh server nonce for the ``DPoP-Nonce`` header (RFC 9449 section 8).

    Stateless: a ``TimestampSigner`` signature of the current time under ``SECRET_KEY`` (fallbacks
    accepted when checking, so keys can rotate). Every character is an NQCHAR.
    """
    return _nonce_signer().sign("")


def nonce_is_valid(nonce: str, max_age: int) -> bool:
    """True when ``nonce`` came from ``new_nonce`` on a server sharing the key, at most ``max_age`` seconds ago."""
    if len(nonce) > MAX_NONCE_LENGTH:
        return False
    try:
        _nonce_signer().unsign(nonce, max_age=max_age)
    except BadSignature:
        return False
    return True


def www_authenticate(error: str | None, algorithms: Collection[str], description: str | None = None) -> str:
    """The ``WWW-Authenticate`` value of a DPoP challenge (RFC 9449 sections 7.1 and 9).

    ``DPoP error="invalid_dpop_proof", error_description="...", algs="ES256 EdDSA"``; without
    ``error`` (a request with no proof), only ``algs``. Characters that cannot appear in a quoted
    string are dropped from the description.
    """
    params = []
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{_NOT_QUOTABLE.sub("", description)}"')
    params.append(f'algs="{" ".join(algorithms)}"')
    return "DPoP " + ", ".join(params)
