"""DPoP proofs (restricted_sessions.dpop): one test per rule of RFC 9449 section 4.3, the RFC's own
examples, hostile input, the jti store, server nonces, the challenge, and an independent client."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry
from requests_oauth2client import DPoPKey

import tests.hypothesis_profiles  # noqa: F401 - selects the profile
from restricted_sessions import dpop
from restricted_sessions.dpop import (
    INVALID_PROOF,
    USE_NONCE,
    InvalidProof,
    JtiStore,
    Proof,
    access_token_hash,
    new_nonce,
    nonce_is_valid,
    verify_proof,
    www_authenticate,
)

NOW = 1_700_000_000
URL = "https://testserver/api/items/"
SESSION_KEY = "q8rkh3b0v2wz5nb4kd6n7xj0zlcv1m2p"
ES256_KEY = ECKey.generate_key("P-256")
OTHER_KEY = ECKey.generate_key("P-256")
ED25519_KEY = OKPKey.generate_key("Ed25519")

# RFC 9449 figures 3, 7 and 13 (the key's thumbprint, a token-endpoint proof, a resource proof) and
# the access token whose hash the resource proof carries.
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RFC_HEADER = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJo"
    "RjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
)
RFC_TOKEN_PROOF = (
    f"{RFC_HEADER}.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3R"
    "va2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC_RESOURCE_PROOF = (
    f"{RFC_HEADER}.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9w"
    "cm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9"
    ".2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(key: ECKey | OKPKey) -> dict[str, Any]:
    return dict(key.as_dict(private=False))


def header(key: ECKey | OKPKey = ES256_KEY, **changes: Any) -> dict[str, Any]:
    alg = "EdDSA" if isinstance(key, OKPKey) else "ES256"
    return _changed({"typ": "dpop+jwt", "alg": alg, "jwk": public_jwk(key)}, changes)


def claims(**changes: Any) -> dict[str, Any]:
    base = {"jti": "proof-1", "htm": "POST", "htu": URL, "iat": NOW, "ath": access_token_hash(SESSION_KEY)}
    return _changed(base, changes)


def _changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``changes``; a change to ``...`` removes the member."""
    result = {**base, **changes}
    return {name: value for name, value in result.items() if value is not ...}


def sign(
    protected: dict[str, Any] | str | None = None,
    payload: dict[str, Any] | str | None = None,
    key: ECKey | OKPKey = ES256_KEY,
    alg: str | None = None,
) -> str:
    """A compact JWS over exactly these JSON texts (dicts are dumped), signed with ``key``."""
    protected = header(key) if protected is None else protected
    payload = claims() if payload is None else payload
    header_text = protected if isinstance(protected, str) else json.dumps(protected)
    claims_text = payload if isinstance(payload, str) else json.dumps(payload)
    signing_input = f"{b64(header_text.encode())}.{b64(claims_text.encode())}"
    algorithm = JWSRegistry.algorithms[alg or ("EdDSA" if isinstance(key, OKPKey) else "ES256")]
    return f"{signing_input}.{b64(algorithm.sign(signing_input.encode(), key))}"


def verify(proof: str, **overrides: Any) -> Proof:
    arguments: dict[str, Any] = {
        "method": "POST",
        "url": URL,
        "session_key": SESSION_KEY,
        "algorithms": ("ES256", "EdDSA"),
        "iat_leeway": 60,
        "now": NOW,
        "nonce_required": False,
        "nonce_ok": None,
    }
    return verify_proof(proof, **(arguments | overrides))


def refused(proof: str, description: str, error: str = INVALID_PROOF, **overrides: Any) -> None:
    """``proof`` is refused with ``error``, by the rule whose description contains ``description``."""
    with pytest.raises(InvalidProof) as refusal:
        verify(proof, **overrides)
    assert refusal.value.error == error
    assert description in refusal.value.description


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    caches["default"].clear()
    yield
    caches["default"].clear()


# A valid proof --------------------------------------------------------------------------------


def test_valid_es256_proof() -> None:
    proof = verify(sign())
    assert proof == Proof(jkt=ES256_KEY.thumbprint(), jti="proof-1", iat=NOW)


def test_valid_eddsa_proof() -> None:
    assert verify(sign(key=ED25519_KEY)).jkt == ED25519_KEY.thumbprint()


def test_rfc_9449_examples_verify() -> None:
    token = verify(
        RFC_TOKEN_PROOF, method="POST", url="https://server.example.com/token", session_key=None, now=1562262616
    )
    assert token == Proof(jkt=RFC_JKT, jti="-BwC3ESc6acc2lTc", iat=1562262616)
    resource = verify(
        RFC_RESOURCE_PROOF,
        method="GET",
        url="https://resource.example.org/protectedresource",
        session_key=RFC_ACCESS_TOKEN,
        now=1562262618,
    )
    assert resource == Proof(jkt=RFC_JKT, jti="e1j3V_bKic8-LAEB", iat=1562262618)


def test_thumbprint_is_rfc_7638_sha256_of_the_canonical_json() -> None:
    jwk = public_jwk(ES256_KEY)
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    assert verify(sign()).jkt == b64(hashlib.sha256(canonical.encode()).digest())
    # RFC 7638 section 3.1's own example key and thumbprint.
    rfc_key = RSAKey.import_key(
        {
            "kty": "RSA",
            "n": (
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuh"
                "DR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf"
                "0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91"
                "CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-"
                "csFCur-kEgU8awapJzKnqDKgw"
            ),
            "e": "AQAB",
        }
    )
    assert rfc_key.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ath_is_the_rfc_9449_hash() -> None:
    assert access_token_hash(RFC_ACCESS_TOKEN) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


# RFC 9449 section 4.3, step by step -----------------------------------------------------------


def test_step_1_one_dpop_header() -> None:
    # Two DPoP header fields reach Django joined by a comma.
    refused(f"{sign()},{sign()}", "more than one")


def test_step_2_size_cap_before_parsing() -> None:
    refused(sign(claims(jti="j" * 200, padding="x" * 9000)), "too long")


def test_step_2_compact_jws() -> None:
    refused("not-a-jwt", "compact serialization")
    refused(sign() + ".extra", "compact serialization")
    refused(sign().replace(".", ".=", 1), "compact serialization")


def test_step_2_header_and_claims_are_json_objects() -> None:
    refused(sign(payload="[1, 2]"), "JSON object")
    refused(sign(protected='"dpop+jwt"'), "JSON object")
    refused(sign(payload='{"jti": "a", "iat": NaN}'), "JSON object")
    header_segment, _, signature = sign().split(".")
    not_utf8 = b64(b"\xff\xfe")
    refused(f"{header_segment}.{not_utf8}.{signature}", "JSON object")


def test_step_2_duplicate_member_names() -> None:
    duplicate = json.dumps(claims())[:-1] + ', "htm": "GET"}'
    refused(sign(payload=duplicate), "JSON object")


def test_step_3_required_claims() -> None:
    refused(sign(payload=claims(jti=...)), "jti")
    refused(sign(payload=claims(htm=...)), "htm")
    refused(sign(payload=claims(htu=...)), "htu")
    refused(sign(payload=claims(iat=...)), "iat")


def test_step_3_jti_is_a_bounded_string() -> None:
    refused(sign(payload=claims(jti="")), "jti")
    refused(sign(payload=claims(jti="j" * 257)), "jti")
    refused(sign(payload=claims(jti=12345)), "jti")
    assert verify(sign(payload=claims(jti="j" * 256))).jti == "j" * 256


def test_step_4_typ_is_dpop_jwt() -> None:
    refused(sign(header(typ="JWT")), "typ")
    refused(sign(header(typ=...)), "typ")


def test_step_5_alg_is_allowed_and_asymmetric() -> None:
    refused(sign(header(alg="none")), "alg", algorithms=("none", "ES256"))
    refused(sign(header(alg="HS256")), "alg", algorithms=("HS256", "ES256"))
    refused(sign(key=ED25519_KEY), "alg", algorithms=("ES256",))
    refused(sign(header(alg=["ES256"])), "alg")
    refused(sign(header(alg={"ES256": 1})), "alg", algorithms=frozenset({"ES256"}))


def test_step_5_critical_extensions_are_refused() -> None:
    refused(sign(header(crit=["b64"], b64=False)), "critical")


def test_step_6_signature_verifies_with_the_jwk() -> None:
    refused(sign(header(jwk=public_jwk(OTHER_KEY))), "signature")
    header_segment, _, signature = sign().split(".")
    other_claims = b64(json.dumps(claims(jti="proof-2")).encode())
    refused(f"{header_segment}.{other_claims}.{signature}", "signature")
    refused(sign()[:-4] + "AAAA", "signature")
    # Not canonical base64url: a length no encoding has, and a last character with padding bits set.
    refused(sign()[:-1], "signature")
    refused(sign()[:-1] + "B", "signature")


def test_step_6_jwk_type_and_curve_match_alg() -> None:
    refused(sign(header(jwk=public_jwk(ED25519_KEY))), "type and curve")
    refused(sign(header(ED25519_KEY, jwk=public_jwk(ES256_KEY))), "type and curve", algorithms=("EdDSA",))
    p384 = ECKey.generate_key("P-384")
    refused(sign(header(p384, alg="ES256"), key=p384, alg="ES384"), "type and curve")
    refused(sign(header(jwk="key")), "jwk is missing")
    refused(sign(header(jwk=...)), "jwk is missing")


def test_step_6_supported_curves() -> None:
    for crv, alg in (("P-384", "ES384"), ("P-521", "ES512")):
        key = ECKey.generate_key(crv)
        assert verify(sign(header(key, alg=alg), key=key, alg=alg), algorithms=(alg,)).jkt == key.thumbprint()
    fully_specified = sign(header(ED25519_KEY, alg="Ed25519"), key=ED25519_KEY, alg="Ed25519")
    assert verify(fully_specified, algorithms=("Ed25519",)).jkt == ED25519_KEY.thumbprint()
    secp256k1 = ECKey.generate_key("secp256k1")
    refused(sign(header(secp256k1, alg="ES256K"), key=secp256k1, alg="ES256K"), "alg", algorithms=("ES256K",))
    ed448 = OKPKey.generate_key("Ed448")
    refused(sign(header(ed448), key=ed448), "type and curve")


def test_step_6_malformed_keys() -> None:
    jwk = public_jwk(ES256_KEY)
    refused(sign(header(jwk=jwk | {"x": jwk["x"][:-1]})), "coordinates")
    refused(sign(header(jwk=jwk | {"y": 42})), "coordinates")
    refused(sign(header(jwk=jwk | {"x": "!" * 43})), "coordinates")
    # Right length and alphabet, but not a point on P-256.
    refused(sign(header(jwk=jwk | {"x": "A" * 42 + "E"})), "not a valid public key")


def test_step_7_no_private_key_material() -> None:
    private = dict(ES256_KEY.as_dict(private=True))
    refused(sign(header(jwk=private)), "private")
    refused(sign(header(jwk=public_jwk(ES256_KEY) | {"k": "c2VjcmV0"})), "private")
    refused(sign(header(jwk={"kty": "oct", "k": "c2VjcmV0"})), "private")


def test_step_8_htm_is_the_request_method() -> None:
    refused(sign(payload=claims(htm="GET")), "htm")
    refused(sign(payload=claims(htm="post")), "htm")
    refused(sign(payload=claims(htm=1)), "htm")


def test_step_9_htu_is_the_request_uri() -> None:
    refused(sign(payload=claims(htu="https://testserver/api/other/")), "htu")
    refused(sign(payload=claims(htu="https://evil.example/api/items/")), "htu")
    refused(sign(payload=claims(htu="http://testserver/api/items/")), "htu")
    refused(sign(payload=claims(htu="https://testserver:8443/api/items/")), "htu")
    refused(sign(payload=claims(htu="/api/items/")), "htu")
    refused(sign(payload=claims(htu=["https://testserver/api/items/"])), "htu")
    refused(sign(), "htu", url="not a url")


def test_step_9_htu_is_compared_in_normal_form_without_query_and_fragment() -> None:
    for htu in (
        "HTTPS://TestServer:443/api/items/",
        "https://testserver/api/items/?page=2#top",
        "https://testserver/api/./x/../items/",
        "https://testserver/%61pi/items/",
    ):
        assert verify(sign(payload=claims(htu=htu))).jti == "proof-1"


def test_step_10_nonce_when_required() -> None:
    def fresh(nonce: str) -> bool:
        return nonce == "fresh"

    refused(sign(), "nonce", error=USE_NONCE, nonce_required=True, nonce_ok=fresh)
    refused(sign(payload=claims(nonce="stale")), "nonce", error=USE_NONCE, nonce_required=True, nonce_ok=fresh)
    refused(sign(payload=claims(nonce="fresh")), "nonce", error=USE_NONCE, nonce_required=True, nonce_ok=None)
    refused(sign(payload=claims(nonce=7)), "nonce is not a string", nonce_required=True, nonce_ok=fresh)
    assert verify(sign(payload=claims(nonce="fresh")), nonce_required=True, nonce_ok=fresh).jti == "proof-1"
    # A nonce error only for an otherwise valid proof: a client cannot fix anything else by retrying.
    refused(sign(header(jwk=public_jwk(OTHER_KEY))), "signature", nonce_required=True, nonce_ok=fresh)


def test_step_11_iat_within_the_window() -> None:
    assert verify(sign(payload=claims(iat=NOW - 60))).iat == NOW - 60
    assert verify(sign(payload=claims(iat=NOW + 60.5)), iat_leeway=61).iat == NOW + 60.5
    refused(sign(payload=claims(iat=NOW - 61)), "window")
    refused(sign(payload=claims(iat=NOW + 61)), "window")


def test_step_11_iat_is_a_number() -> None:
    refused(sign(payload=claims(iat=str(NOW))), "not a number")
    refused(sign(payload=claims(iat=True)), "not a number", now=1)
    refused(sign(payload=claims(iat=-1)), "not a number", now=0)
    refused(sign(payload=claims(iat=10**400)), "not a number")
    refused(sign(payload=json.dumps(claims())[:-1] + ', "iat": 1e999}'), "JSON object")  # duplicate iat
    refused(sign(payload=json.dumps(claims(iat=...))[:-1] + ', "iat": 1e999}'), "not a number")
    # Longer than Python parses an integer: a JSON error, not an exception.
    refused(sign(payload=json.dumps(claims(iat=...))[:-1] + ', "iat": ' + "9" * 5000 + "}"), "JSON object")


def test_step_12_ath_is_the_session_key_hash() -> None:
    refused(sign(payload=claims(ath=...)), "ath")
    refused(sign(payload=claims(ath=access_token_hash("another-session-key"))), "ath")
    refused(sign(payload=claims(ath=7)), "ath")
    # Without a session key (a client asking for one) there is nothing to hash.
    assert verify(sign(payload=claims(ath=...)), session_key=None).jti == "proof-1"
    assert verify(sign(payload=claims(ath=...)), session_key="").jti == "proof-1"


# Hostile input: InvalidProof, never another exception -------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(
    st.sampled_from(["typ", "alg", "jwk", "crit", "jti", "htm", "htu", "iat", "ath", "nonce", "kty", "crv", "x"]),
    json_values,
    max_size=8,
)


def _only_refused(proof: str, **overrides: Any) -> None:
    """``proof`` is accepted or refused with a DPoP error code; any other exception fails the test."""
    error = INVALID_PROOF
    try:
        verify(proof, **overrides)
    except InvalidProof as refusal:
        error = refusal.error
    assert error in (INVALID_PROOF, USE_NONCE)


@given(st.text(max_size=300))
def test_any_text_is_refused(text: str) -> None:
    _only_refused(text)


@given(json_objects, json_objects)
def test_any_json_header_and_claims(protected: dict[str, Any], payload: dict[str, Any]) -> None:
    _only_refused(sign(header() | protected, claims() | payload), nonce_required=True, nonce_ok=lambda n: True)


@given(st.integers(min_value=0, max_value=500), st.sampled_from("AZaz09-_.,= "))
def test_any_corrupted_proof_is_refused(position: int, character: str) -> None:
    proof = sign()
    corrupted = proof[:position] + character + proof[position + 1 :]
    if corrupted != proof:
        with pytest.raises(InvalidProof):
            verify(corrupted)


def test_hostile_headers() -> None:
    megabyte_jwk = public_jwk(ES256_KEY) | {"x": "A" * 1_000_000}
    refused(sign(header(jwk=megabyte_jwk)), "too long")
    refused(sign(payload="[" * 2500 + "]" * 2500), "JSON object")
    with pytest.raises(InvalidProof):
        verify(sign(protected='{"a":' * 900 + "1" + "}" * 900))
    refused("A" * 8193, "too long")
    refused("a.b.c", "JSON object")
    refused("é.é.é", "compact serialization")
    # A lone surrogate is a valid JSON string: accepted, and stored without an encoding error.
    proof = verify(sign(payload=json.dumps(claims(jti="\ud800"))))
    assert JtiStore().use(proof, leeway=60, now=NOW) is True


# The jti store --------------------------------------------------------------------------------


def test_jti_is_used_once_per_key() -> None:
    store = JtiStore()
    proof = verify(sign())
    assert store.use(proof, leeway=60, now=NOW) is True
    assert store.use(proof, leeway=60, now=NOW) is False
    other_key = verify(sign(header(jwk=public_jwk(OTHER_KEY)), key=OTHER_KEY))
    assert other_key.jti == proof.jti
    assert store.use(other_key, leeway=60, now=NOW) is True


async def test_jti_async_store_shares_the_entries() -> None:
    store = JtiStore()
    proof = verify(sign())
    assert await store.ause(proof, leeway=60, now=NOW) is True
    assert await store.ause(proof, leeway=60, now=NOW) is False
    assert store.use(proof, leeway=60, now=NOW) is False


def test_jti_entries_expire_with_the_window() -> None:
    store = JtiStore(prefix="p:")
    proof = Proof(jkt="k", jti="j", iat=NOW)
    key, timeout = store.entry(proof, leeway=60, now=NOW)
    assert key == "p:" + base64.urlsafe_b64encode(hashlib.sha256(b"k\0j").digest()).rstrip(b"=").decode()
    assert timeout == 61
    assert store.entry(proof, leeway=60, now=NOW + 59.5)[1] == 2
    assert store.entry(proof, leeway=60, now=NOW - 60)[1] == 121
    assert store.entry(proof, leeway=60, now=NOW + 600)[1] == 1


@override_settings(
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "replay": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "replay"},
    }
)
def test_jti_store_uses_its_cache_alias() -> None:
    proof = verify(sign())
    assert JtiStore("replay").use(proof, leeway=60, now=NOW) is True
    assert JtiStore().use(proof, leeway=60, now=NOW) is True
    assert JtiStore("replay").use(proof, leeway=60, now=NOW) is False


# Server nonces --------------------------------------------------------------------------------


def test_new_nonce_is_valid_and_nqchar() -> None:
    nonce = new_nonce()
    assert nonce_is_valid(nonce, max_age=300)
    assert all(character == "!" or "#" <= character <= "[" or "]" <= character <= "~" for character in nonce)


def test_nonce_tampered_or_foreign_is_invalid() -> None:
    nonce = new_nonce()
    assert not nonce_is_valid(nonce[:-1] + ("A" if nonce[-1] != "A" else "B"), max_age=300)
    assert not nonce_is_valid("not-a-nonce", max_age=300)
    assert not nonce_is_valid("", max_age=300)
    assert not nonce_is_valid(nonce + "x" * 300, max_age=300)
    with override_settings(SECRET_KEY="another-secret-key-entirely"):
        assert not nonce_is_valid(nonce, max_age=300)


def test_nonce_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    nonce = new_nonce()
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    assert not nonce_is_valid(nonce, max_age=300)
    assert nonce_is_valid(nonce, max_age=310)


def test_nonce_survives_secret_key_rotation() -> None:
    nonce = new_nonce()
    rotated = override_settings(SECRET_KEY="the-new-secret-key", SECRET_KEY_FALLBACKS=[settings.SECRET_KEY])
    with rotated:
        assert nonce_is_valid(nonce, max_age=300)


# The challenge --------------------------------------------------------------------------------


def test_www_authenticate() -> None:
    assert www_authenticate(INVALID_PROOF, ["ES256", "EdDSA"]) == 'DPoP error="invalid_dpop_proof", algs="ES256 EdDSA"'
    assert www_authenticate(None, ["ES256"]) == 'DPoP algs="ES256"'
    assert (
        www_authenticate(USE_NONCE, ["ES256"], 'Say "please"\\\n\u00e9')
        == 'DPoP error="use_dpop_nonce", error_description="Say please", algs="ES256"'
    )


# Without the extra ----------------------------------------------------------------------------


def test_import_without_joserfc_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name == "joserfc" or name.startswith("joserfc.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "joserfc", None)
    monkeypatch.delitem(sys.modules, "restricted_sessions.dpop")
    with pytest.raises(ModuleNotFoundError, match=r'pip install "restricted_sessions\[dpop\]"'):
        importlib.import_module("restricted_sessions.dpop")


def test_nothing_else_imports_joserfc() -> None:
    """Outside the DPoP modules and DBSC's protocol, no module imports joserfc (anywhere in it)."""
    import ast
    from pathlib import Path

    package = Path(dpop.__file__).parent

    def imports_joserfc(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "joserfc" for name in names):
                return True
        return False

    importers = {str(path.relative_to(package)) for path in package.rglob("*.py") if imports_joserfc(path)}
    assert importers == {"dpop.py", "dpop_client.py", "dbsc/protocol.py"}


# An independent client: requests-oauth2client (jwskate) -----------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA"])
def test_independent_client_proofs_are_accepted(alg: str) -> None:
    client = DPoPKey.generate(alg=alg, iat_generator=lambda: NOW)
    proof = str(client.proof("POST", URL + "?page=2#top", ath=access_token_hash(SESSION_KEY), nonce="n-1"))
    accepted = verify(proof, algorithms=(alg,), nonce_required=True, nonce_ok=lambda nonce: nonce == "n-1")
    assert accepted.jkt == client.dpop_jkt


def test_independent_client_flawed_proofs_are_refused() -> None:
    client = DPoPKey.generate(alg="ES256", iat_generator=lambda: NOW)
    ath = access_token_hash(SESSION_KEY)
    refused(str(client.proof("GET", URL, ath=ath)), "htm")
    refused(str(client.proof("POST", "https://testserver/api/other/", ath=ath)), "htu")
    refused(str(client.proof("POST", URL, ath=access_token_hash("stolen-elsewhere"))), "ath")
    refused(str(client.proof("POST", URL)), "ath")
    refused(str(client.proof("POST", URL, ath=ath)), "nonce", error=USE_NONCE, nonce_required=True, nonce_ok=bool)
    refused(str(client.proof("POST", URL, ath=ath)), "window", now=NOW + 61)
    refused(str(client.proof("POST", URL, ath=ath)), "alg", algorithms=("EdDSA",))
    refused(str(DPoPKey.generate(jwt_typ="JWT", iat_generator=lambda: NOW).proof("POST", URL, ath=ath)), "typ")
    refused(str(DPoPKey.generate(alg="PS256", iat_generator=lambda: NOW).proof("POST", URL, ath=ath)), "alg")
    refused(str(DPoPKey.generate(alg="ES256k", iat_generator=lambda: NOW).proof("POST", URL, ath=ath)), "alg")
    proof = str(client.proof("POST", URL, ath=ath))
    header_segment, claims_segment, signature = proof.split(".")
    forged = b64(json.dumps(json.loads(base64.urlsafe_b64decode(claims_segment + "==")) | {"htm": "GET"}).encode())
    refused(f"{header_segment}.{forged}.{signature}", "signature", method="GET")
    replayed = verify(proof)
    assert JtiStore().use(replayed, leeway=60, now=NOW) is True
    assert JtiStore().use(verify(proof), leeway=60, now=NOW) is False
