"""The DBSC draft's rules on the server side: headers, instructions JSON, proofs, challenges, bound cookie."""

from __future__ import annotations

import base64
import json
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from joserfc import jws

from restricted_sessions.dbsc import protocol, sfv
from tests.dbsc.utils import CHROMIUM_JWK, CHROMIUM_REFRESH, CHROMIUM_REGISTRATION, Device

NOW = 1_800_000_000.0
BOTH = ["ES256", "RS256"]


def b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# Headers and instructions -------------------------------------------------------------------------


def test_the_registration_header_offers_the_algorithms_path_and_challenge() -> None:
    assert protocol.registration_header(["ES256", "RS256"], "/dbsc/registration/", "c1") == (
        '(ES256 RS256);path="/dbsc/registration/";challenge="c1"'
    )


def test_the_challenge_header_names_the_session() -> None:
    assert protocol.challenge_header("c2", "s1") == '"c2";id="s1"'


def test_the_instructions_scope_the_origin_and_name_the_bound_cookie() -> None:
    body = protocol.instructions("s1", "/dbsc/refresh/", "__Host-rs-dbsc", "Path=/; Secure; HttpOnly; SameSite=Lax")
    assert body == {
        "session_identifier": "s1",
        "refresh_url": "/dbsc/refresh/",
        "scope": {"include_site": False},
        "credentials": [
            {"type": "cookie", "name": "__Host-rs-dbsc", "attributes": "Path=/; Secure; HttpOnly; SameSite=Lax"}
        ],
    }


def test_termination_says_continue_false() -> None:
    assert protocol.termination("s1") == {"session_identifier": "s1", "continue": False}


def test_cookie_attributes_follow_samesite() -> None:
    assert protocol.cookie_attributes("Strict") == "Path=/; Secure; HttpOnly; SameSite=Strict"
    assert protocol.cookie_attributes(None) == "Path=/; Secure; HttpOnly"


def test_session_identifiers_are_fresh_tokens() -> None:
    first, second = protocol.new_session_identifier(), protocol.new_session_identifier()
    assert first != second
    assert sfv.token(first) == first
    assert len(first) == 33


# Challenges ---------------------------------------------------------------------------------------


def test_a_new_challenge_keeps_exactly_one_previous() -> None:
    state, first = protocol.issue_challenge(None, NOW)
    state, second = protocol.issue_challenge(state, NOW + 1)
    state, third = protocol.issue_challenge(state, NOW + 2)
    assert len({first, second, third}) == 3
    assert state["challenges"] == [[third, NOW + 2], [second, NOW + 1]]


def test_issuing_keeps_the_rest_of_the_state() -> None:
    state, _ = protocol.issue_challenge({"id": "s1"}, NOW)
    assert state["id"] == "s1"


def test_the_current_challenge_is_taken_once() -> None:
    state, challenge = protocol.issue_challenge(None, NOW)
    taken = protocol.take_challenge(state, challenge, NOW + 1, 60)
    assert taken == {"challenges": []}
    assert protocol.take_challenge(taken, challenge, NOW + 2, 60) is None


def test_the_previous_challenge_answers_once_after_a_new_one_was_issued() -> None:
    state, previous = protocol.issue_challenge(None, NOW)
    state, current = protocol.issue_challenge(state, NOW + 1)
    taken = protocol.take_challenge(state, previous, NOW + 2, 60)
    assert taken is not None
    assert taken["challenges"] == [[current, NOW + 1]]
    assert protocol.take_challenge(taken, previous, NOW + 3, 60) is None
    assert protocol.take_challenge(taken, current, NOW + 3, 60) is not None


def test_a_challenge_two_issues_old_is_gone() -> None:
    state, oldest = protocol.issue_challenge(None, NOW)
    state, _ = protocol.issue_challenge(state, NOW)
    state, _ = protocol.issue_challenge(state, NOW)
    assert protocol.take_challenge(state, oldest, NOW, 60) is None


def test_a_challenge_expires() -> None:
    state, challenge = protocol.issue_challenge(None, NOW)
    assert protocol.take_challenge(state, challenge, NOW + 60, 60) is None
    assert protocol.take_challenge(state, challenge, NOW + 59.9, 60) is not None


def test_a_challenge_from_the_future_is_refused() -> None:
    state, challenge = protocol.issue_challenge(None, NOW)
    assert protocol.take_challenge(state, challenge, NOW - 1, 60) is None


def test_an_unknown_challenge_is_refused() -> None:
    state, _ = protocol.issue_challenge(None, NOW)
    assert protocol.take_challenge(state, "guess", NOW, 60) is None


@pytest.mark.parametrize(
    "challenges", [None, "x", [["c"]], [["c", "now"]], [["c", True]], [[1, NOW]], [{"c": NOW}], [["c", NOW, 1]]]
)
def test_malformed_stored_challenges_are_ignored(challenges: Any) -> None:
    assert protocol.take_challenge({"challenges": challenges}, "c", NOW, 60) is None
    state, _ = protocol.issue_challenge({"challenges": challenges}, NOW)
    assert len(state["challenges"]) == 1


# Registration proofs ------------------------------------------------------------------------------


def test_a_real_chromium_registration_proof_verifies_with_its_own_key() -> None:
    proof = protocol.read_registration_proof(CHROMIUM_REGISTRATION, ["ES256"])
    assert proof == protocol.Proof(alg="ES256", jwk=CHROMIUM_JWK, jti="abc")


def test_the_proof_may_come_as_an_sf_string() -> None:
    assert protocol.read_registration_proof(f'"{CHROMIUM_REGISTRATION}"', ["ES256"]) is not None


@pytest.mark.parametrize("alg", BOTH)
def test_es256_and_rs256_proofs_register(alg: str) -> None:
    device = Device(alg)
    proof = protocol.read_registration_proof(device.proof("c1", registration=True), BOTH)
    assert proof is not None
    assert (proof.alg, proof.jwk, proof.jti) == (alg, device.jwk, "c1")


def test_an_algorithm_that_was_not_offered_is_refused() -> None:
    assert protocol.read_registration_proof(Device("RS256").proof("c", registration=True), ["ES256"]) is None


def test_alg_none_is_refused() -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'dbsc+jwt'})}.{b64({'jti': 'c'})}."
    assert protocol.read_registration_proof(unsigned, [*BOTH, "none"]) is None


@pytest.mark.parametrize("typ", ["JWT", None, "dbsc+JWT"])
def test_the_type_must_be_dbsc_jwt(typ: str | None) -> None:
    assert protocol.read_registration_proof(Device().proof("c", registration=True, typ=typ), BOTH) is None


def test_a_registration_proof_needs_its_key() -> None:
    assert protocol.read_registration_proof(Device().proof("c"), BOTH) is None


def test_the_key_must_be_the_one_that_signed() -> None:
    device, other = Device(), Device()
    assert protocol.read_registration_proof(device.proof("c", registration=True, jwk=other.jwk), BOTH) is None


def test_the_key_type_must_match_the_algorithm() -> None:
    rsa_device = Device("RS256")
    assert protocol.read_registration_proof(rsa_device.proof("c", registration=True, jwk=CHROMIUM_JWK), BOTH) is None
    assert protocol.read_registration_proof(Device().proof("c", registration=True, jwk=rsa_device.jwk), BOTH) is None


def test_only_p256_keys_sign_es256() -> None:
    assert protocol._public_key({**CHROMIUM_JWK, "crv": "P-384"}, "ES256") is None
    assert protocol._public_key(CHROMIUM_JWK, "ES256") is not None


def rsa_jwk(bits: int) -> dict[str, Any]:
    numbers = rsa.generate_private_key(65537, bits).public_key().public_numbers()
    n = base64.urlsafe_b64encode(numbers.n.to_bytes(bits // 8)).rstrip(b"=").decode()
    return {"kty": "RSA", "n": n, "e": "AQAB"}


def test_rsa_keys_need_2048_to_8192_bits() -> None:
    assert protocol._public_key(rsa_jwk(1024), "RS256") is None
    assert protocol._public_key(rsa_jwk(2040), "RS256") is None
    assert protocol._public_key(rsa_jwk(2048), "RS256") is not None
    too_big = {"kty": "RSA", "n": base64.urlsafe_b64encode(b"\xff" * 1025).decode(), "e": "AQAB"}
    assert protocol._public_key(too_big, "RS256") is None
    assert protocol._public_key({"kty": "RSA", "n": "!!", "e": "AQAB"}, "RS256") is None
    assert protocol._public_key({"kty": "RSA", "n": "A", "e": "AQAB"}, "RS256") is None
    assert protocol._public_key({"kty": "RSA", "e": "AQAB"}, "RS256") is None


def test_a_key_with_private_parts_is_refused() -> None:
    device = Device()
    private = device.key.as_dict(private=True)
    assert protocol._public_key(private, "ES256") is None


@pytest.mark.parametrize("jwk", [{"kty": "EC", "crv": "P-256", "x": 1, "y": "y"}, {"kty": "EC", "crv": "P-256"}, {}])
def test_a_malformed_key_is_refused(jwk: dict[str, Any]) -> None:
    assert protocol._public_key(jwk, "ES256") is None


def test_a_tampered_signature_fails() -> None:
    header, _, signature = CHROMIUM_REGISTRATION.split(".")
    forged = f"{header}.{b64({'jti': 'other'})}.{signature}"
    assert protocol.read_registration_proof(forged, ["ES256"]) is None


@pytest.mark.parametrize("claims", [{}, {"jti": 5}, {"jti": ""}, {"jti": "x" * 257}, ["jti"], "jti"])
def test_the_claims_need_a_string_jti(claims: Any) -> None:
    assert protocol.read_registration_proof(Device().signed(claims), BOTH) is None


def test_a_jti_of_256_characters_is_read() -> None:
    assert protocol.read_registration_proof(Device().signed({"jti": "x" * 256}), BOTH) is not None


@pytest.mark.parametrize(
    "value",
    [None, "", "a.b", "a.b.c.d", "not a token", "e" * 9000, "eyJ.eyJ.x", f"{b64([1])}.{b64({})}.AA", "\u00e9.a.b"],
)
def test_junk_is_not_a_proof(value: str | None) -> None:
    assert protocol.read_registration_proof(value, BOTH) is None


DEEP = "[" * 1500  # deeper than Python's JSON parser goes (RecursionError), within the size limits


def test_a_header_nested_too_deep_is_not_a_proof() -> None:
    deep = base64.urlsafe_b64encode(DEEP.encode()).rstrip(b"=").decode()

    assert protocol.read_registration_proof(f"{deep}.{b64({})}.AA", BOTH) is None


def test_signed_claims_nested_too_deep_are_not_a_proof() -> None:
    device = Device()
    protected = {"alg": "ES256", "typ": "dbsc+jwt", "jwk": device.jwk}
    token = jws.serialize_compact(protected, DEEP, device.key, algorithms=["ES256"])

    assert protocol.read_registration_proof(token, BOTH) is None
    assert protocol.read_refresh_proof(token, "ES256", device.jwk) is None


# Refresh proofs -----------------------------------------------------------------------------------


def test_a_real_chromium_refresh_proof_verifies_with_the_registered_key() -> None:
    proof = protocol.read_refresh_proof(CHROMIUM_REFRESH, "ES256", CHROMIUM_JWK)
    assert proof is not None
    assert proof.jti == "refresh-chal-5"


def test_a_refresh_proof_by_another_key_fails() -> None:
    assert protocol.read_refresh_proof(Device().proof("c"), "ES256", CHROMIUM_JWK) is None


def test_a_key_in_a_refresh_proof_is_never_used() -> None:
    thief = Device()
    assert protocol.read_refresh_proof(thief.proof("c", registration=True), "ES256", CHROMIUM_JWK) is None


def test_a_refresh_proof_must_use_the_registered_algorithm() -> None:
    device = Device("RS256")
    assert protocol.read_refresh_proof(device.proof("c"), "ES256", device.jwk) is None
    assert protocol.read_refresh_proof(device.proof("c"), "RS256", device.jwk) is not None


def test_a_corrupt_registered_key_fails_closed() -> None:
    assert protocol.read_refresh_proof(CHROMIUM_REFRESH, "ES256", {"kty": "EC"}) is None


def test_without_joserfc_the_error_names_the_extra() -> None:
    protocol._jose.cache_clear()
    try:
        with mock.patch.dict("sys.modules", {"joserfc": None}), pytest.raises(
            ImproperlyConfigured, match=r'pip install "restricted_sessions\[dbsc\]"'
        ):
            protocol.read_refresh_proof(CHROMIUM_REFRESH, "ES256", CHROMIUM_JWK)
    finally:
        protocol._jose.cache_clear()


# The bound cookie ---------------------------------------------------------------------------------


def test_a_bound_cookie_matches_its_session_only() -> None:
    cookie = protocol.make_bound_cookie("s1")
    assert protocol.bound_cookie_matches(cookie, "s1", 60)
    assert not protocol.bound_cookie_matches(cookie, "s2", 60)


def test_a_bound_cookie_expires() -> None:
    with mock.patch("django.core.signing.time.time", return_value=NOW):
        cookie = protocol.make_bound_cookie("s1")
    with mock.patch("django.core.signing.time.time", return_value=NOW + 61):
        assert not protocol.bound_cookie_matches(cookie, "s1", 60)
    with mock.patch("django.core.signing.time.time", return_value=NOW + 59):
        assert protocol.bound_cookie_matches(cookie, "s1", 60)


@pytest.mark.parametrize("value", [None, "", "s1", "s1:abc:def", "x" * 600])
def test_a_forged_bound_cookie_fails(value: str | None) -> None:
    assert not protocol.bound_cookie_matches(value, "s1", 60)


def test_a_cookie_signed_with_another_secret_fails_and_a_fallback_secret_counts() -> None:
    with override_settings(SECRET_KEY="old-secret"):
        cookie = protocol.make_bound_cookie("s1")
    assert not protocol.bound_cookie_matches(cookie, "s1", 60)
    with override_settings(SECRET_KEY_FALLBACKS=["old-secret"]):
        assert protocol.bound_cookie_matches(cookie, "s1", 60)


def test_the_cookie_is_signed_for_dbsc_only() -> None:
    other_purpose = signing.TimestampSigner(salt="something else").sign("s1")
    assert not protocol.bound_cookie_matches(other_purpose, "s1", 60)


REGISTERED = {"id": "s1", "alg": "ES256", "jwk": CHROMIUM_JWK, "registered_at": NOW}


def test_enforcement_leaves_sessions_that_are_not_bound_alone() -> None:
    assert protocol.bound_cookie_ok(None, None, NOW + 100, 60)
    assert protocol.bound_cookie_ok({"challenges": []}, None, NOW + 100, 60)


def test_enforcement_asks_a_bound_session_for_its_cookie() -> None:
    assert not protocol.bound_cookie_ok(REGISTERED, None, NOW + 100, 60)
    assert protocol.bound_cookie_ok(REGISTERED, protocol.make_bound_cookie("s1"), NOW + 100, 60)
    assert not protocol.bound_cookie_ok(REGISTERED, protocol.make_bound_cookie("s2"), NOW + 100, 60)


def test_enforcement_lets_in_requests_raced_with_registration() -> None:
    assert protocol.bound_cookie_ok(REGISTERED, None, NOW + protocol.REGISTRATION_GRACE - 0.1, 60)
    assert not protocol.bound_cookie_ok(REGISTERED, None, NOW + protocol.REGISTRATION_GRACE, 60)
    assert not protocol.bound_cookie_ok({**REGISTERED, "registered_at": "x"}, None, NOW, 60)


def test_enforcement_accepts_a_cookie_in_flight_at_expiry() -> None:
    with mock.patch("django.core.signing.time.time", return_value=NOW):
        cookie = protocol.make_bound_cookie("s1")
    late = NOW + 60 + protocol.COOKIE_LEEWAY
    with mock.patch("django.core.signing.time.time", return_value=late - 1):
        assert protocol.bound_cookie_ok(REGISTERED, cookie, late - 1, 60)
    with mock.patch("django.core.signing.time.time", return_value=late + 1):
        assert not protocol.bound_cookie_ok(REGISTERED, cookie, late + 1, 60)


@pytest.mark.parametrize(
    "state", [{"id": "s1"}, {"id": 1, "jwk": {}}, {"jwk": {}}, {"id": "s1", "jwk": "k"}, [], "s1"]
)
def test_incomplete_states_are_not_registered(state: Any) -> None:
    assert not protocol.is_registered(state)
