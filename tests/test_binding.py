"""restricted_sessions.binding: the pure decision, its stored forms, and the legacy forms it reads.

Everything here runs without a request, a session or Django's settings, so the hypothesis
properties run thousands of examples in a few seconds. Golden values pin every stored form: a
change to a salt, a message or an encoding would log out every session on upgrade.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from restricted_sessions.addresses import AddressRules, IPAddress, parse_ip
from restricted_sessions.binding import (
    BINDING_SESSION_KEY,
    IP2_SESSION_KEY,
    IP_SESSION_KEY,
    MATCH,
    MEMO_SIZE,
    REASON_DBSC,
    REASON_DPOP,
    REASON_IP,
    REASON_UA,
    UA_SESSION_KEY,
    UNBOUND,
    Binding,
    Match,
    Outcome,
    Policy,
    Presented,
    _short_ua_digest,
    decide,
    parse,
)
from restricted_sessions.useragents import IGNORE_VERSIONS, MAX_STORED_LENGTH
from tests import hypothesis_profiles  # noqa: F401  (registers and loads the profiles)

SECRET = "golden-secret"
OLD, NEW = "the-old-secret-key", "the-new-secret-key"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
V4, V6 = "192.0.2.7", "2001:db8:1:2::7"
RAW = Policy()
HASHED = Policy(hashed=True, secrets=(SECRET,))


def ip(text: str) -> IPAddress:
    address = parse_ip(text)
    assert address is not None
    return address


def presented(address: str | None = V4, user_agent: str | None = UA) -> Presented:
    return Presented(None if address is None else parse_ip(address), user_agent)


def reads(policy: Policy, data: dict[str, Any]) -> Binding:
    return policy.read(data.get)


# Golden values: the stored forms, computed once ---------------------------------------------------

# 1.0's forms for SECRET, made by the 1.0 code (commit 3486d54): HMAC-SHA256, salts
# "restricted_sessions.ip" / "restricted_sessions.ua", messages the network identity / the User-Agent.
LEGACY_V4 = "$hmac$4$d1d474413c0c4a5f14ce5c88c57131cf563d5181c928081667d7ba50ddad4c36"
LEGACY_V6 = "$hmac$6$bca5db87313b6cdb579ccf38493ac3b79a157237461da9ab3ed329b5d394b6ca"
LEGACY_UA = "$hmac$318d8aff49f5c0c088f03d6d35a74e7e972c8bc7dc7c876296a7ef4e835d5f42"
LEGACY_NO_UA = "$hmac$7986a490c929bbd37b642b656979a3288f9c1e8bb0c9db965c8daedfc850b97d"
LEGACY_EXEMPT = "$hmac$4$9fe6ee4523630fe38082793101d19d2ec3f5b93f71983550a64a876499fde8ea"
LEGACY_HUGE_UA = "$sha256$d9505831cf0c7a7eba6abaec64920ac9ae3fb89cc103dd618dbd3a051bb2a933"
HUGE_UA = "M" * 600


def test_the_session_keys_are_pinned() -> None:
    assert BINDING_SESSION_KEY == "_restrictedsessions"
    assert (IP_SESSION_KEY, IP2_SESSION_KEY, UA_SESSION_KEY) == (
        "_restrictedsessions_ip",
        "_restrictedsessions_ip2",
        "_restrictedsessions_ua",
    )


def test_the_raw_stored_forms_are_pinned() -> None:
    binding = RAW.new_binding(presented(V4, UA))

    assert binding.encode() == "1|192.0.2.7||~oACLSyCILCPONkl2FTMj1A"
    assert RAW.new_binding(presented(V6, None)).encode() == "1|2001:db8:1:2::7||~47DEQpj8HBSa-_TImW-5JA"
    assert RAW.ua_token("") == RAW.ua_token(None) == "~47DEQpj8HBSa-_TImW-5JA"
    assert RAW.ua_token(HUGE_UA) == "~2VBYMc8Men66arrsZJIKyQ"
    assert RAW.new_binding(presented(None, UA)).encode() == "1|?||~oACLSyCILCPONkl2FTMj1A"


def test_the_raw_user_agent_digest_is_the_first_128_bits_of_sha256() -> None:
    digest = hashlib.sha256(UA.encode()).digest()[:16]

    assert RAW.ua_token(UA) == "~" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_the_hashed_stored_forms_are_pinned() -> None:
    assert HASHED.new_binding(presented(V4, UA)).encode() == "1|#40dR0QTwMSl8UzlyIxXExzw||#MY2K_0n1wMCI8D1tNadOfg"
    assert HASHED.ip_token(ip(V6)) == "#6vKXbhzE7bNtXnM84STrDtw"
    assert HASHED.ua_token(None) == HASHED.ua_token("") == "#eYakkMkpu9N7ZCtlaXmjKA"
    assert HASHED.ip_token(None) == "?"


def test_an_exempt_network_is_hashed_as_the_network() -> None:
    policy = Policy(hashed=True, secrets=(SECRET,), addresses=AddressRules(exempt_networks=["100.64.0.0/10"]))

    assert policy.ip_token(ip("100.64.1.1")) == policy.ip_token(ip("100.70.3.3")) == "#4n-buRSNjD-OAgnkxAdGdLg"


@pytest.mark.parametrize(
    ("legacy", "compact"),
    [
        ({IP_SESSION_KEY: LEGACY_V4}, Binding(ip="#40dR0QTwMSl8UzlyIxXExzw", legacy=True)),
        (
            {IP_SESSION_KEY: LEGACY_V4, IP2_SESSION_KEY: LEGACY_V6},
            Binding("#40dR0QTwMSl8UzlyIxXExzw", "#6vKXbhzE7bNtXnM84STrDtw", legacy=True),
        ),
        ({UA_SESSION_KEY: LEGACY_UA}, Binding(ua="#MY2K_0n1wMCI8D1tNadOfg", legacy=True)),
        ({UA_SESSION_KEY: LEGACY_NO_UA}, Binding(ua="#eYakkMkpu9N7ZCtlaXmjKA", legacy=True)),
        ({IP_SESSION_KEY: LEGACY_EXEMPT}, Binding(ip="#4n-buRSNjD-OAgnkxAdGdLg", legacy=True)),
        ({UA_SESSION_KEY: LEGACY_HUGE_UA}, Binding(ua="~2VBYMc8Men66arrsZJIKyQ", legacy=True)),
        # django-restricted-sessions 0.4 stored the values as they came, None for no User-Agent.
        ({IP_SESSION_KEY: V4, UA_SESSION_KEY: UA}, Binding("192.0.2.7", ua="~oACLSyCILCPONkl2FTMj1A", legacy=True)),
        ({IP_SESSION_KEY: V4, UA_SESSION_KEY: None}, Binding("192.0.2.7", ua="~47DEQpj8HBSa-_TImW-5JA", legacy=True)),
        ({IP_SESSION_KEY: "::ffff:192.0.2.7"}, Binding("192.0.2.7", legacy=True)),
    ],
)
def test_legacy_forms_convert_to_the_golden_compact_forms(legacy: dict[str, Any], compact: Binding) -> None:
    assert reads(HASHED, legacy) == compact


def test_legacy_hashed_values_still_match_the_same_client() -> None:
    binding = reads(HASHED, {IP_SESSION_KEY: LEGACY_V4, UA_SESSION_KEY: LEGACY_UA})

    assert decide(HASHED, binding, presented(V4, UA)) is MATCH
    assert decide(HASHED, binding, presented("192.0.2.8", UA)).reason == REASON_IP
    assert decide(HASHED, binding, presented(V4, UA + " ")).reason == REASON_UA


@pytest.mark.parametrize("stored", [V4, "::ffff:192.0.2.7", LEGACY_V4, "#40dR0QTwMSl8UzlyIxXExzw"])
def test_ip_matches_reads_a_stored_address_in_any_form(stored: str) -> None:
    """Compact raw and hashed (golden, as pinned above), 1.0's ``$hmac$4$``, 0.4's raw text."""
    assert HASHED.ip_matches(stored, ip(V4))
    assert not HASHED.ip_matches(stored, ip("192.0.2.8"))
    assert not HASHED.ip_matches(stored, None)


@pytest.mark.parametrize(
    "stored",
    [
        UA,
        LEGACY_UA,
        "#MY2K_0n1wMCI8D1tNadOfg",
        "~oACLSyCILCPONkl2FTMj1A",
        "$sha256$" + hashlib.sha256(UA.encode()).hexdigest(),
    ],
)
def test_ua_matches_reads_a_stored_user_agent_in_any_form(stored: str) -> None:
    """Compact hashed and raw digests (golden), 1.0's ``$hmac$`` and ``$sha256$``, 0.4's raw text."""
    assert HASHED.ua_matches(stored, UA)
    assert not HASHED.ua_matches(stored, UA + " ")
    assert not HASHED.ua_matches(stored, None)


def test_ua_matches_compares_a_raw_legacy_user_agent_as_ua_match_says() -> None:
    tolerant = Policy(ua_match=IGNORE_VERSIONS)

    assert tolerant.ua_matches("Mozilla/5.0 Firefox/133.0", "Mozilla/5.0 Firefox/134.0")
    assert not RAW.ua_matches("Mozilla/5.0 Firefox/133.0", "Mozilla/5.0 Firefox/134.0")


def test_ua_matches_reads_0_4s_none_as_bound_to_no_user_agent() -> None:
    assert HASHED.ua_matches(None, None)
    assert HASHED.ua_matches(None, "")
    assert not HASHED.ua_matches(None, UA)


@pytest.mark.parametrize("stored", ["?", "#", "~", "$hmac$" + "0" * 62, 42, ["UA"]])
def test_ua_matches_never_matches_an_unreadable_stored_user_agent(stored: object) -> None:
    assert not HASHED.ua_matches(stored, UA)
    assert not HASHED.ua_matches(stored, "")


@pytest.mark.parametrize("stored", ["?", "junk", "#60dR0QTwMSl8UzlyIxXExzw", "$hmac$4$" + "0" * 62, None, 42])
def test_ip_matches_never_matches_an_unreadable_stored_address(stored: object) -> None:
    assert not HASHED.ip_matches(stored, ip(V4))


@pytest.mark.parametrize(
    "value",
    [
        "$hmac$5$" + "0" * 64,  # no such family
        "$hmac$4$" + "0" * 62,  # a short digest
        "$hmac$4$" + "0" * 66,  # a long one
        "$hmac$4$" + "g" * 64,  # not hex
        "$hmac$4",
        "999.1.1.1",
        "",
        42,
        None,
        ["192.0.2.7"],
    ],
)
def test_an_unreadable_legacy_address_never_matches(value: object) -> None:
    binding = reads(HASHED, {IP_SESSION_KEY: value})

    assert binding.ip == "?"
    assert decide(HASHED, binding, presented()).reason == REASON_IP


@pytest.mark.parametrize("value", ["$hmac$" + "0" * 62, "$sha256$" + "z" * 64, "$hmac$", 42, b"UA", ["UA"]])
def test_an_unreadable_legacy_user_agent_never_matches(value: object) -> None:
    binding = reads(RAW, {UA_SESSION_KEY: value})

    assert binding.ua == "?"
    assert decide(RAW, binding, presented()).reason == REASON_UA


def test_a_session_without_a_binding_reads_as_empty() -> None:
    binding = reads(RAW, {"value": "x"})

    assert binding.is_empty
    assert not binding.legacy
    assert decide(RAW, binding, presented(None, None)) is MATCH


# The compact form ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["", "1", "1|a|b", "1|a|b|c|d|e", "2|192.0.2.7||~x", None, 1, b"1|||", "1|" + "a" * 198],
)
def test_a_compact_value_of_another_shape_matches_nothing(value: object) -> None:
    assert parse(value) == Binding(ip="?", ua="?")
    assert decide(RAW, parse(value), presented()).reason == REASON_IP


def test_the_longest_compact_value_is_still_read() -> None:
    longest = "1|192.0.2.7||" + "x" * (200 - 13)

    assert len(longest) == 200
    assert parse(longest) == Binding("192.0.2.7", ua="x" * 187)
    assert parse(longest + "x") == Binding(ip="?", ua="?")


def test_empty_fields_are_unbound_parts() -> None:
    assert parse("1|||") == Binding()
    assert parse("1|||").is_empty
    assert Binding().encode() == "1|||"
    assert Binding(ip="?").is_empty is False
    assert Binding(ip2="?").is_empty is False
    assert Binding(ua="?").is_empty is False


# The decision -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "current"),
    [(V4, V4), ("2001:db8::1", "2001:db8::abcd"), (V4, "::ffff:192.0.2.7"), ("::ffff:192.0.2.7", V4)],
)
def test_the_same_client_matches(stored: str, current: str) -> None:
    assert decide(RAW, Binding(stored, ua=RAW.ua_token(UA)), presented(current)) is MATCH


@pytest.mark.parametrize(
    ("stored", "current"),
    [
        (V4, "192.0.2.8"),
        ("2001:db8::1", "2001:db8:0:1::1"),
        ("::1", "0.0.0.1"),
        (V4, "2001:db8::1"),
        ("2001:db8::1", V4),
        (V4, None),
    ],
)
def test_another_address_is_an_ip_change(stored: str, current: str | None) -> None:
    outcome = decide(RAW, Binding(stored, ua=RAW.ua_token(UA)), presented(current))

    assert outcome == Outcome(REASON_IP, stored, None if current is None else str(parse_ip(current)))


def test_prefix_lengths_widen_the_match_up_to_their_boundary() -> None:
    policy = Policy(ipv4_length=24, ipv6_length=48)

    assert decide(policy, Binding("192.0.2.7"), presented("192.0.2.255")) is MATCH
    assert decide(policy, Binding("192.0.2.7"), presented("192.0.3.0")).reason == REASON_IP
    assert decide(policy, Binding("2001:db8:1::1"), presented("2001:db8:1:ffff::1")) is MATCH
    assert decide(policy, Binding("2001:db8:1::1"), presented("2001:db8:2::1")).reason == REASON_IP


def test_zero_length_prefixes_still_tell_ipv4_from_ipv6() -> None:
    policy = Policy(ipv4_length=0, ipv6_length=0)

    assert decide(policy, Binding(V4), presented("203.0.113.1")) is MATCH
    assert decide(policy, Binding(V4), presented("2001:db8::1")).reason == REASON_IP


def test_a_user_agent_change_reports_the_stored_form_and_the_new_value() -> None:
    stored = RAW.ua_token(UA)

    assert decide(RAW, Binding(V4, ua=stored), presented(V4, "Other/1.0")) == Outcome(REASON_UA, stored, "Other/1.0")


def test_the_address_is_decided_before_the_user_agent() -> None:
    outcome = decide(RAW, Binding(V4, ua=RAW.ua_token(UA)), presented("198.51.100.1", "Other"))

    assert outcome.reason == REASON_IP


def test_unbound_and_switched_off_parts_are_not_checked() -> None:
    assert decide(RAW, Binding(), presented(None, None)) is MATCH
    off = Policy(restrict_ip=False, restrict_ua=False)
    assert decide(off, Binding(V4, ua=RAW.ua_token(UA)), presented("198.51.100.1", "Other")) is MATCH
    assert decide(Policy(restrict_ip=False), Binding(V4, ua=RAW.ua_token(UA)), presented("198.51.100.1")) is MATCH
    assert decide(Policy(restrict_ua=False), Binding(V4, ua=RAW.ua_token(UA)), presented(V4, "Other")) is MATCH


def test_a_user_agent_that_looks_like_a_stored_form_is_bound_to_itself_only() -> None:
    stored = RAW.ua_token(UA)
    binding = Binding(V4, ua=stored)

    assert decide(RAW, binding, presented(V4, stored)).reason == REASON_UA
    assert decide(RAW, Binding(V4, ua=RAW.ua_token(stored)), presented(V4, stored)) is MATCH
    assert decide(HASHED, Binding(V4, ua=HASHED.ua_token(UA)), presented(V4, HASHED.ua_token(UA))).reason == REASON_UA


@pytest.mark.parametrize("length", [511, 512, 513, 100_000])
def test_user_agents_of_any_length_compare_exactly(length: int) -> None:
    user_agent = "M" * length
    for policy in (RAW, HASHED, Policy(ua_match=IGNORE_VERSIONS)):
        binding = policy.new_binding(presented(V4, user_agent))
        assert decide(policy, binding, presented(V4, user_agent)) is MATCH
        assert decide(policy, binding, presented(V4, user_agent[:-1] + "N")).reason == REASON_UA


def test_non_utf8_user_agents_compare_safely() -> None:
    raw = "Mozilla/5.0 \xff\xfe\x80\udcff"
    for policy in (RAW, HASHED):
        binding = policy.new_binding(presented(V4, raw))
        assert decide(policy, binding, presented(V4, raw)) is MATCH
        assert decide(policy, binding, presented(V4, raw + "y")).reason == REASON_UA


# Fault 10: no User-Agent ----------------------------------------------------------------------


@pytest.mark.parametrize("policy", [RAW, HASHED, Policy(ua_match=IGNORE_VERSIONS)], ids=["raw", "hashed", "tolerant"])
def test_a_session_bound_without_a_user_agent_keeps_requests_without_one(policy: Policy) -> None:
    binding = policy.new_binding(presented(V4, None))

    assert decide(policy, binding, presented(V4, None)) is MATCH
    assert decide(policy, binding, presented(V4, "")) is MATCH
    assert decide(policy, binding, presented(V4, UA)).reason == REASON_UA


@pytest.mark.parametrize("policy", [RAW, HASHED, Policy(ua_match=IGNORE_VERSIONS)], ids=["raw", "hashed", "tolerant"])
def test_a_session_bound_with_a_user_agent_refuses_a_request_without_one(policy: Policy) -> None:
    binding = policy.new_binding(presented(V4, UA))

    assert decide(policy, binding, presented(V4, None)) == Outcome(REASON_UA, binding.ua, None)
    assert decide(policy, binding, presented(V4, "")).reason == REASON_UA


# Fault 11: SECRET_KEY rotation ------------------------------------------------------------------


def test_a_binding_that_matches_only_through_a_fallback_is_rewritten_with_the_new_key() -> None:
    old = Policy(hashed=True, secrets=(OLD,))
    rotating = Policy(hashed=True, secrets=(NEW, OLD))
    done = Policy(hashed=True, secrets=(NEW,))
    binding = old.new_binding(presented())

    outcome = decide(rotating, binding, presented())

    assert outcome.reason is None
    assert outcome.save == done.new_binding(presented())
    assert decide(done, binding, presented()).reason == REASON_IP
    assert decide(done, outcome.save, presented()) is MATCH
    assert decide(rotating, outcome.save, presented()) is MATCH


def test_a_user_agent_alone_matching_through_a_fallback_is_rewritten() -> None:
    binding = Binding(V4, ua=Policy(hashed=True, secrets=(OLD,)).ua_token(UA))
    rotating = Policy(hashed=True, secrets=(NEW, OLD))

    outcome = decide(rotating, binding, presented())

    assert outcome.save == Binding(V4, ua=Policy(hashed=True, secrets=(NEW,)).ua_token(UA))


def test_a_rotation_does_not_let_another_client_in() -> None:
    binding = Policy(hashed=True, secrets=(OLD,)).new_binding(presented())
    rotating = Policy(hashed=True, secrets=(NEW, OLD))

    assert decide(rotating, binding, presented("198.51.100.1")).reason == REASON_IP
    assert decide(rotating, binding, presented(V4, "Other")).reason == REASON_UA


def test_match_reports_how_a_hashed_part_matched() -> None:
    rotating = Policy(hashed=True, secrets=(NEW, OLD))
    old, new = Policy(hashed=True, secrets=(OLD,)), Policy(hashed=True, secrets=(NEW,))

    assert rotating.match_ip(new.ip_token(ip(V4)), ip(V4)) is Match.YES
    assert rotating.match_ip(old.ip_token(ip(V4)), ip(V4)) is Match.STALE
    assert rotating.match_ip(old.ip_token(ip(V4)), ip("192.0.2.8")) is Match.NO
    assert rotating.match_ua(new.ua_token(UA), UA) is Match.YES
    assert rotating.match_ua(old.ua_token(UA), UA) is Match.STALE
    assert rotating.match_ua(old.ua_token(UA), "x") is Match.NO


# Fault 7 and 21: DUAL_STACK ---------------------------------------------------------------------

DUAL = Policy(dual_stack=True)
DUAL_HASHED = Policy(dual_stack=True, hashed=True, secrets=(SECRET,))


@pytest.mark.parametrize("policy", [DUAL, DUAL_HASHED], ids=["raw", "hashed"])
@pytest.mark.parametrize(("first", "second"), [(V4, V6), (V6, V4)])
def test_dual_stack_binds_the_other_family_once(policy: Policy, first: str, second: str) -> None:
    binding = policy.new_binding(presented(first))

    outcome = decide(policy, binding, presented(second))

    assert outcome.reason is None
    assert outcome.save == Binding(binding.ip, policy.ip_token(ip(second)), binding.ua)
    assert decide(policy, outcome.save, presented(second)) is MATCH
    assert decide(policy, outcome.save, presented(first)) is MATCH
    stranger = "2001:db8:9::1" if ":" in second else "198.51.100.1"
    assert decide(policy, outcome.save, presented(stranger)).reason == REASON_IP


@pytest.mark.parametrize("policy", [DUAL, DUAL_HASHED], ids=["raw", "hashed"])
def test_a_strict_check_never_binds_the_other_family(policy: Policy) -> None:
    binding = policy.new_binding(presented(V4))

    outcome = decide(policy, binding, presented(V6), bind_other_family=False)

    assert outcome == Outcome(REASON_IP, None, "2001:db8:1:2::7")


def test_without_dual_stack_the_other_family_is_a_change() -> None:
    binding = RAW.new_binding(presented(V4))

    assert decide(RAW, binding, presented(V6)) == Outcome(REASON_IP, V4, V6)


@pytest.mark.parametrize("policy", [DUAL, DUAL_HASHED], ids=["raw", "hashed"])
def test_a_dual_stack_session_bound_while_the_address_was_unreadable_is_refused(policy: Policy) -> None:
    binding = policy.new_binding(presented(None))

    assert decide(policy, binding, presented(V4)).reason == REASON_IP
    assert decide(policy, binding, presented(V6)).reason == REASON_IP
    assert decide(policy, binding, presented(None)).reason == REASON_IP


@pytest.mark.parametrize("stored", ["#5" + "A" * 22, "#" + "A" * 22, "#", "junk"])
def test_a_stored_address_of_no_known_family_is_refused_with_dual_stack(stored: str) -> None:
    binding = Binding(stored, ua=DUAL_HASHED.ua_token(UA))

    assert decide(DUAL_HASHED, binding, presented(V4)).reason == REASON_IP
    assert decide(DUAL_HASHED, binding, presented(V6)).reason == REASON_IP


def test_a_second_family_that_changed_is_reported_with_its_stored_form() -> None:
    binding = Binding(V4, V6, RAW.ua_token(UA))

    assert decide(DUAL, binding, presented("2001:db8:9::1")) == Outcome(REASON_IP, V6, "2001:db8:9::1")


def test_a_legacy_second_family_converts() -> None:
    binding = reads(DUAL_HASHED, {IP_SESSION_KEY: LEGACY_V6, IP2_SESSION_KEY: LEGACY_V4, UA_SESSION_KEY: LEGACY_UA})

    assert decide(DUAL_HASHED, binding, presented(V4)).reason is None
    assert decide(DUAL_HASHED, binding, presented(V6)).reason is None
    assert decide(DUAL_HASHED, binding, presented("192.0.2.8")).reason == REASON_IP


# What is written when a session is saved anyway ---------------------------------------------------


def test_a_current_binding_is_not_rewritten() -> None:
    binding = RAW.new_binding(presented())

    assert RAW.to_save(binding, presented()) is None


def test_unbound_parts_are_bound_at_the_next_save() -> None:
    assert RAW.to_save(Binding(), presented()) == RAW.new_binding(presented())
    assert RAW.to_save(Binding(ip=V4), presented()) == Binding(V4, ua=RAW.ua_token(UA))
    assert Policy(restrict_ip=False, restrict_ua=False).to_save(Binding(), presented()) is None


def test_a_legacy_binding_is_rewritten_in_the_compact_form() -> None:
    binding = reads(RAW, {IP_SESSION_KEY: V4, UA_SESSION_KEY: UA})

    assert binding.legacy
    assert RAW.to_save(binding, presented()) == Binding(V4, ua="~oACLSyCILCPONkl2FTMj1A")


def test_a_raw_binding_is_rewritten_hashed_and_back() -> None:
    raw, hashed = RAW.new_binding(presented()), HASHED.new_binding(presented())

    assert HASHED.to_save(raw, presented()) == hashed
    assert RAW.to_save(hashed, presented()) == raw


@pytest.mark.parametrize(("first", "second"), [(V4, V6), (V6, V4)])
def test_each_family_is_rewritten_by_a_request_of_its_own_family(first: str, second: str) -> None:
    raw = Binding(first, second, RAW.ua_token(UA))

    assert DUAL_HASHED.to_save(raw, presented(second)) == Binding(
        first, HASHED.ip_token(ip(second)), HASHED.ua_token(UA)
    )
    assert DUAL_HASHED.to_save(raw, presented(first)) == Binding(
        HASHED.ip_token(ip(first)), second, HASHED.ua_token(UA)
    )


def test_an_unreadable_part_is_kept_as_it_is() -> None:
    binding = Binding("?", ua="?")

    assert HASHED.to_save(binding, presented()) is None
    assert RAW.to_save(binding, presented()) is None
    assert HASHED.to_save(binding, presented(None)) is None


# Properties over any input, on the pure engine -------------------------------------------------------

addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(lambda a: parse_ip(str(a)))
user_agents = st.one_of(st.none(), st.text(max_size=40), st.text(alphabet="ab/1. ", max_size=600))
policies = st.builds(
    Policy,
    restrict_ip=st.booleans(),
    restrict_ua=st.booleans(),
    ipv4_length=st.integers(0, 32),
    ipv6_length=st.integers(0, 128),
    ua_match=st.sampled_from(["exact", IGNORE_VERSIONS]),
    dual_stack=st.booleans(),
    hashed=st.booleans(),
    secrets=st.sampled_from([(SECRET,), (NEW, OLD)]),
)
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=80), st.binary(max_size=20)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
forms = st.one_of(
    junk,
    st.sampled_from([LEGACY_V4, LEGACY_V6, LEGACY_UA, LEGACY_HUGE_UA, "?", "#5" + "A" * 22, "#4", V4, V6, "1|||"]),
    st.builds(
        lambda a, b, c: f"1|{a}|{b}|{c}", *[st.sampled_from(["", "?", V4, V6, "#4x", "#6x", "~x", "#x", "|"])] * 3
    ),
)
stored_data = st.dictionaries(
    st.sampled_from([BINDING_SESSION_KEY, IP_SESSION_KEY, IP2_SESSION_KEY, UA_SESSION_KEY]), forms, max_size=4
)


def same_prefix(a: IPAddress, b: IPAddress, policy: Policy) -> bool:
    """The oracle: whether two addresses share the configured prefix, with plain integers."""
    if a.version != b.version:
        return False
    length = policy.ipv4_length if a.version == 4 else policy.ipv6_length
    return int(a) >> (a.max_prefixlen - length) == int(b) >> (b.max_prefixlen - length)


@given(policy=policies, data=stored_data, address=st.none() | addresses, user_agent=user_agents, strict=st.booleans())
def test_any_stored_value_gets_a_defined_answer(
    policy: Policy, data: dict[str, Any], address: IPAddress | None, user_agent: str | None, strict: bool
) -> None:
    request = Presented(address, user_agent)
    binding = policy.read(data.get)

    outcome = decide(policy, binding, request, bind_other_family=not strict)
    new = policy.to_save(binding, request)

    assert outcome.reason in (None, REASON_IP, REASON_UA)
    assert outcome.save is None or (outcome.reason is None and not outcome.save.legacy)
    if new is not None:
        assert parse(new.encode()) == new
        assert not new.is_empty
    if outcome.save is not None:
        assert parse(outcome.save.encode()) == outcome.save


@given(policy=policies, address=addresses, user_agent=user_agents)
def test_a_new_binding_matches_the_request_that_made_it(
    policy: Policy, address: IPAddress, user_agent: str | None
) -> None:
    request = Presented(address, user_agent)
    binding = policy.new_binding(request)

    assert decide(policy, binding, request) is MATCH
    assert policy.to_save(binding, request) is None
    assert parse(binding.encode()) == binding


@given(policy=policies, first=addresses, second=addresses)
def test_an_address_matches_exactly_when_it_shares_the_prefix(
    policy: Policy, first: IPAddress, second: IPAddress
) -> None:
    binding = policy.new_binding(Presented(first, UA))

    outcome = decide(policy, binding, Presented(second, UA), bind_other_family=False)

    expected = not policy.restrict_ip or same_prefix(first, second, policy)
    assert (outcome.reason is None) == expected
    assert outcome.reason in (None, REASON_IP)


@given(policy=policies, first=user_agents, second=user_agents)
def test_a_user_agent_matches_exactly_when_it_is_the_same(
    policy: Policy, first: str | None, second: str | None
) -> None:
    binding = policy.new_binding(Presented(ip(V4), first))

    outcome = decide(policy, binding, Presented(ip(V4), second))

    if policy.ua_match == "exact" and policy.restrict_ua:
        assert (outcome.reason is None) == ((first or "") == (second or ""))
    if (first or "") == (second or "") or not policy.restrict_ua:
        assert outcome is MATCH


@given(first=addresses, second=addresses, user_agent=user_agents, hashed=st.booleans())
def test_dual_stack_binds_a_second_family_once_and_then_holds_it(
    first: IPAddress, second: IPAddress, user_agent: str | None, hashed: bool
) -> None:
    policy = Policy(dual_stack=True, hashed=hashed, secrets=(SECRET,))
    binding = policy.new_binding(Presented(first, user_agent))

    outcome = decide(policy, binding, Presented(second, user_agent))

    if first.version == second.version:
        assert (outcome.reason is None) == same_prefix(first, second, policy)
        assert outcome.save is None
    else:
        assert outcome.save is not None
        assert decide(policy, outcome.save, Presented(second, user_agent)) is MATCH
        assert decide(policy, outcome.save, Presented(first, user_agent)) is MATCH
        assert decide(policy, binding, Presented(second, user_agent), bind_other_family=False).reason == REASON_IP


@given(address=addresses, user_agent=user_agents)
def test_a_rotation_rewrites_what_the_old_key_bound(address: IPAddress, user_agent: str | None) -> None:
    request = Presented(address, user_agent)
    binding = Policy(hashed=True, secrets=(OLD,)).new_binding(request)

    outcome = decide(Policy(hashed=True, secrets=(NEW, OLD)), binding, request)

    assert outcome.save == Policy(hashed=True, secrets=(NEW,)).new_binding(request)


# Pinned by mutation testing (tests/mutation/run.sh) ------------------------------------------------


def test_a_hashed_user_agent_too_long_to_remember_is_still_the_golden_hmac() -> None:
    assert HASHED.ua_token(HUGE_UA) == "#xygykzD_B4S6DDFpn89uEA"


def test_lone_surrogates_are_digested_not_refused() -> None:
    user_agent = "Mozilla/5.0 \udcff"

    assert Policy(hashed=True, secrets=(SECRET,)).ua_token(user_agent) == "#ROYQ4ONLBtNK5O3V9hasrg"
    assert RAW.ua_token(user_agent) == "~bOzeeesZ9vVG8Y7tq_0pcg"
    assert RAW.ua_token(user_agent + "x" * 600) != RAW.ua_token(user_agent + "y" * 600)


def test_only_user_agents_short_enough_to_store_are_remembered() -> None:
    _short_ua_digest.cache_clear()
    policy = Policy(hashed=True, secrets=(SECRET,))

    RAW.ua_token("a" * MAX_STORED_LENGTH)
    policy.ua_token("a" * MAX_STORED_LENGTH)
    RAW.ua_token("a" * (MAX_STORED_LENGTH + 1))
    policy.ua_token("a" * (MAX_STORED_LENGTH + 1))

    assert _short_ua_digest.cache_info().currsize == 1
    assert len(policy._memo) == 1


def test_the_memo_of_hashed_forms_is_bounded() -> None:
    policy = Policy(hashed=True, secrets=(SECRET,))
    for number in range(MEMO_SIZE + 1):
        policy.ip_token(ipaddress.IPv4Address(number))
        assert len(policy._memo) <= MEMO_SIZE
    assert len(policy._memo) == 1


@pytest.mark.parametrize("hashed", [False, True])
def test_ignore_versions_applies_to_new_and_legacy_bindings(hashed: bool) -> None:
    policy = Policy(ua_match=IGNORE_VERSIONS, hashed=hashed, secrets=(SECRET,))
    updated = UA.replace("133.0", "134.0")

    assert decide(policy, policy.new_binding(presented(V4, UA)), presented(V4, updated)) is MATCH
    assert decide(policy, reads(policy, {IP_SESSION_KEY: V4, UA_SESSION_KEY: UA}), presented(V4, updated)) is MATCH
    assert decide(policy, policy.new_binding(presented(V4, UA)), presented(V4, "curl/8.0")).reason == REASON_UA


def test_switched_off_parts_are_never_bound() -> None:
    assert Policy(restrict_ip=False).new_binding(presented()) == Binding(ua=RAW.ua_token(UA))
    assert Policy(restrict_ua=False).new_binding(presented()) == Binding(V4)


def test_the_compact_key_is_read_first() -> None:
    data = {BINDING_SESSION_KEY: "1|192.0.2.7||", IP_SESSION_KEY: "198.51.100.1"}

    assert reads(RAW, data) == Binding("192.0.2.7")
    assert reads(RAW, {BINDING_SESSION_KEY: None}) == Binding(ip="?", ua="?")


def test_an_address_matched_within_its_prefix_is_not_rewritten() -> None:
    policy = Policy(ipv4_length=24, ipv6_length=48, dual_stack=True)
    binding = Binding("192.0.2.7", "2001:db8:1::1", policy.ua_token(UA))

    assert policy.to_save(binding, presented("192.0.2.8")) is None
    assert policy.to_save(binding, presented("2001:db8:1::2")) is None


def test_what_a_legacy_binding_saves_now_is_not_legacy() -> None:
    binding = reads(DUAL, {IP_SESSION_KEY: V4, UA_SESSION_KEY: UA})

    outcome = decide(DUAL, binding, presented(V6))

    assert outcome.save == Binding(V4, V6, RAW.ua_token(UA))
    assert not outcome.save.legacy


# Device-bound sessions (DBSC) and DPoP key-bound sessions -----------------------------------------

OTHER_V4 = "198.51.100.1"
KEY_A, KEY_B = "jkt-of-key-a", "jkt-of-key-b"
PROOF_KEYS = Policy(bind_proof_key=True)
PROOF_KEYS_ANYWHERE = Policy(bind_proof_key=True, proof_key_restrict_ip=False)


def with_key(address: str | None = V4, jkt: str | None = KEY_A, user_agent: str | None = UA) -> Presented:
    return Presented(None if address is None else parse_ip(address), user_agent, jkt=jkt)


def test_a_proof_key_is_the_fifth_field_of_the_stored_form() -> None:
    binding = Binding(V4, ua=RAW.ua_token(UA), jkt=KEY_A)

    assert binding.encode() == "1|192.0.2.7||~oACLSyCILCPONkl2FTMj1A|jkt-of-key-a"
    assert parse(binding.encode()) == binding


def test_a_device_bound_session_without_its_bound_cookie_is_refused_whatever_else_matches() -> None:
    binding = replace(RAW.new_binding(presented()), device=True)
    without_cookie = Presented(ip(V4), UA, device_proof=False)

    assert decide(RAW, binding, without_cookie) == Outcome(REASON_DBSC)
    assert decide(RAW, binding, presented()) is MATCH
    assert decide(RAW, replace(binding, device=False), without_cookie) is MATCH


def test_a_device_bound_session_keeps_the_ip_check_unless_switched_off() -> None:
    binding = replace(RAW.new_binding(presented()), device=True)

    assert decide(RAW, binding, presented(OTHER_V4)).reason == REASON_IP
    assert decide(Policy(device_restrict_ip=False), binding, presented(OTHER_V4)) is MATCH
    assert decide(Policy(device_restrict_ip=False), replace(binding, device=False), presented(OTHER_V4)).reason == (
        REASON_IP
    )


def test_what_a_device_bound_session_saves_is_not_marked_device_bound() -> None:
    """The DBSC state lives under its own session key; the compact form never holds it."""
    rotating = Policy(hashed=True, secrets=(NEW, OLD))
    binding = replace(Policy(hashed=True, secrets=(OLD,)).new_binding(presented()), device=True, legacy=True)

    outcome = decide(rotating, binding, presented())

    assert outcome.save == Policy(hashed=True, secrets=(NEW,)).new_binding(presented())
    assert outcome.save is not None
    assert (outcome.save.device, outcome.save.legacy) == (False, False)


def test_a_key_bound_session_needs_a_proof_by_its_key() -> None:
    binding = Binding(V4, ua=RAW.ua_token(UA), jkt=KEY_A)

    assert decide(PROOF_KEYS, binding, with_key(jkt=KEY_A)) is MATCH
    assert decide(PROOF_KEYS, binding, with_key(jkt=KEY_B)) == Outcome(REASON_DPOP, KEY_A, KEY_B)
    assert decide(PROOF_KEYS, binding, with_key(jkt=None)) == Outcome(REASON_DPOP, KEY_A, None)
    # With DPOP off, a stored key binds nothing; a session bound to no key needs no proof.
    assert decide(RAW, binding, with_key(jkt=None)) is MATCH
    assert decide(PROOF_KEYS, replace(binding, jkt=UNBOUND), with_key(jkt=KEY_B)) is MATCH


def test_a_key_bound_session_keeps_the_ip_check_unless_switched_off() -> None:
    binding = Binding(V4, ua=RAW.ua_token(UA), jkt=KEY_A)
    unkeyed = replace(binding, jkt=UNBOUND)

    assert decide(PROOF_KEYS, binding, with_key(OTHER_V4)).reason == REASON_IP
    assert decide(PROOF_KEYS_ANYWHERE, binding, with_key(OTHER_V4)) is MATCH
    # Only sessions bound to a key leave the address unchecked.
    assert decide(PROOF_KEYS_ANYWHERE, unkeyed, with_key(OTHER_V4, jkt=None)).reason == REASON_IP
    assert decide(Policy(proof_key_restrict_ip=False), binding, with_key(OTHER_V4)).reason == REASON_IP


def test_a_session_saved_with_a_proof_is_bound_to_its_key_once() -> None:
    current = RAW.new_binding(presented())

    assert PROOF_KEYS.to_save(current, with_key(jkt=KEY_B)) == replace(current, jkt=KEY_B)
    assert PROOF_KEYS.to_save(replace(current, jkt=KEY_A), with_key(jkt=KEY_B)) is None
    assert PROOF_KEYS.to_save(current, with_key(jkt=None)) is None
    assert RAW.to_save(current, with_key(jkt=KEY_B)) is None


def test_a_rewrite_keeps_the_proof_key() -> None:
    stale = Binding(V4, ua=Policy(hashed=True, secrets=(OLD,)).ua_token(UA), jkt=KEY_A)

    assert PROOF_KEYS.to_save(stale, with_key(jkt=KEY_A)) == Binding(V4, ua=RAW.ua_token(UA), jkt=KEY_A)


def test_a_current_device_bound_binding_is_not_rewritten() -> None:
    assert RAW.to_save(replace(RAW.new_binding(presented()), device=True), presented()) is None
