"""restricted_sessions.binding: the pure rules that decide whether a request still matches its session."""

from __future__ import annotations

import pytest

from restricted_sessions.addresses import parse_ip
from restricted_sessions.binding import (
    IP_SESSION_KEY,
    REASON_IP,
    REASON_UA,
    UA_SESSION_KEY,
    UNBOUND,
    Policy,
    check,
)

DEFAULT = Policy()
UA = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"


def reason(
    policy: Policy, stored_ip: object, current_ip: str | None, stored_ua: object = UA, current_ua: str | None = UA
) -> str | None:
    return check(
        policy,
        stored_ip=stored_ip,
        stored_ip2=UNBOUND,
        stored_ua=stored_ua,
        current_ip=parse_ip(current_ip) if current_ip is not None else None,
        current_ua=current_ua,
    ).reason


def test_the_session_keys_are_those_of_django_restricted_sessions() -> None:
    assert IP_SESSION_KEY == "_restrictedsessions_ip"
    assert UA_SESSION_KEY == "_restrictedsessions_ua"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("::1", "::1"),
    ],
)
def test_parse_ip_reads_addresses_and_unmaps_ipv4_mapped_ones(value: str, parsed: str) -> None:
    assert str(parse_ip(value)) == parsed


def test_only_ipv4_mapped_addresses_count_as_ipv4() -> None:
    assert parse_ip("::1") != parse_ip("0.0.0.1")
    assert parse_ip("::1").version == 6  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value", ["garbage", "", "1.2.3.4:5678", "[::1]", "999.1.1.1", "1.2.3", "x" * 10_000, " 1.2.3.4x"]
)
def test_parse_ip_refuses_what_is_not_an_address(value: str) -> None:
    assert parse_ip(value) is None


@pytest.mark.parametrize(
    ("stored", "current"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::1", "2001:db8::abcd"),
        ("192.0.2.7", "::ffff:192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
    ],
)
def test_the_same_client_matches(stored: str, current: str) -> None:
    assert reason(DEFAULT, stored, current) is None


@pytest.mark.parametrize(
    ("stored", "current"),
    [
        ("192.0.2.7", "192.0.2.8"),
        ("2001:db8::1", "2001:db8:0:1::1"),
        ("::1", "0.0.0.1"),
        ("192.0.2.7", "2001:db8::1"),
        ("2001:db8::1", "192.0.2.7"),
    ],
)
def test_another_address_is_an_ip_change(stored: str, current: str) -> None:
    assert reason(DEFAULT, stored, current) == REASON_IP


def test_prefix_lengths_widen_the_match() -> None:
    policy = Policy(ipv4_length=24, ipv6_length=48)

    assert reason(policy, "192.0.2.7", "192.0.2.250") is None
    assert reason(policy, "192.0.2.7", "192.0.3.7") == REASON_IP
    assert reason(policy, "2001:db8:1::1", "2001:db8:1:ffff::1") is None
    assert reason(policy, "2001:db8:1::1", "2001:db8:2::1") == REASON_IP


def test_zero_length_prefixes_still_tell_ipv4_from_ipv6() -> None:
    policy = Policy(ipv4_length=0, ipv6_length=0)

    assert reason(policy, "192.0.2.7", "203.0.113.1") is None
    assert reason(policy, "192.0.2.7", "2001:db8::1") == REASON_IP


@pytest.mark.parametrize("stored", ["", "garbage", "1.2.3.4:5678", "[::1]", "999.1.1.1", None, 42])
def test_an_unreadable_stored_address_never_matches(stored: object) -> None:
    assert reason(DEFAULT, stored, "192.0.2.7") == REASON_IP


def test_an_unreadable_current_address_never_matches() -> None:
    assert reason(DEFAULT, "192.0.2.7", None) == REASON_IP


@pytest.mark.parametrize("current_ua", [None, "", "Other/1.0", UA + " "])
def test_another_or_missing_user_agent_is_a_ua_change(current_ua: str | None) -> None:
    assert reason(DEFAULT, "192.0.2.7", "192.0.2.7", current_ua=current_ua) == REASON_UA


def test_an_empty_bound_user_agent_never_matches() -> None:
    assert reason(DEFAULT, "192.0.2.7", "192.0.2.7", stored_ua="", current_ua="") == REASON_UA


def test_unbound_parts_are_not_checked() -> None:
    assert reason(DEFAULT, UNBOUND, None, stored_ua=UNBOUND, current_ua=None) is None


def test_switched_off_parts_are_not_checked() -> None:
    policy = Policy(restrict_ip=False, restrict_ua=False)

    assert reason(policy, "192.0.2.7", "198.51.100.1", current_ua="Other") is None


def test_the_stored_user_agent_is_bounded_and_compared_exactly() -> None:
    huge = "M" * 100_000
    stored = DEFAULT.ua_value(huge)

    assert len(stored) <= 512
    assert stored.startswith("$sha256$")
    assert DEFAULT.ua_matches(stored, huge)
    assert not DEFAULT.ua_matches(stored, huge[:-1] + "N")
    assert not DEFAULT.ua_matches(stored, stored)


def test_a_short_user_agent_is_stored_as_it_is() -> None:
    assert DEFAULT.ua_value(UA) == UA


def test_a_user_agent_that_looks_like_a_digest_is_stored_as_a_digest_of_itself() -> None:
    looks_hashed = "$sha256$" + "0" * 64
    stored = DEFAULT.ua_value(looks_hashed)

    assert stored != looks_hashed
    assert DEFAULT.ua_matches(stored, looks_hashed)
    assert not DEFAULT.ua_matches(looks_hashed, looks_hashed)


def test_non_utf8_user_agent_bytes_are_compared_safely() -> None:
    raw = "Mozilla/5.0 \xff\xfe\x80\udcff" + "x" * 600
    stored = DEFAULT.ua_value(raw)

    assert DEFAULT.ua_matches(stored, raw)
    assert not DEFAULT.ua_matches(stored, raw + "y")


def test_a_long_user_agent_stored_raw_by_django_restricted_sessions_still_matches() -> None:
    legacy = "Mozilla/5.0 " + "x" * 1000

    assert DEFAULT.ua_matches(legacy, legacy)
    assert not DEFAULT.ua_matches(legacy, legacy + "y")


def test_the_stored_address_is_the_plain_address() -> None:
    assert DEFAULT.ip_value(parse_ip("192.0.2.7")) == "192.0.2.7"
    assert DEFAULT.ip_value(None) == ""
