"""RESTRICTEDSESSIONS_DUAL_STACK: one IPv4 and one IPv6 binding, for Happy Eyeballs clients.

A dual-stack machine switches between its IPv4 and its IPv6 address from one connection to the
next. With DUAL_STACK the session holds one binding per family: the family it was created with in
``_restrictedsessions_ip``, the other in ``_restrictedsessions_ip2``, bound on its first use and
enforced from then on. The trade-off: that first use of the second family is trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from restricted_sessions.binding import UNBOUND
from tests.conftest import Http, stored
from tests.restriction_helpers import (
    assert_restricted,
    bound,
    bound_cookie_session,
    bound_ip,
    kept,
)

pytestmark = pytest.mark.django_db

V4 = "192.0.2.7"
V6 = "2001:db8:1:2::7"


@override_settings()
def test_by_default_a_switch_from_ipv4_to_ipv6_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4)

    assert_restricted(http.get("read", ip=V6), key)


@override_settings()
def test_by_default_a_switch_from_ipv6_to_ipv4_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, ip=V6)

    assert_restricted(http.get("read", ip=V4), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_ipv4_then_ipv6_keeps_the_session_and_binds_the_second_family(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4)
    assert bound(stored(key)).ip2 is UNBOUND

    assert kept(http.get("read", ip=V6)) == {"value": "mine"}

    assert bound_ip(stored(key)) == V4
    assert bound(stored(key)).ip2 == V6


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_ipv6_then_ipv4_keeps_the_session_and_binds_the_second_family(http: Http) -> None:
    key = bound_cookie_session(http, ip=V6)

    assert kept(http.get("read", ip=V4)) == {"value": "mine"}

    assert bound_ip(stored(key)) == V6
    assert bound(stored(key)).ip2 == V4


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_the_client_can_switch_back_and_forth(http: Http) -> None:
    bound_cookie_session(http, ip=V4)

    for address in (V6, V4, "2001:db8:1:2::99", V4, V6):
        assert kept(http.get("read", ip=address)) == {"value": "mine"}


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_once_bound_the_second_family_is_enforced(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4)
    http.get("read", ip=V6)

    assert_restricted(http.get("read", ip="2001:db8:9::7"), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_the_first_family_stays_enforced(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4)
    http.get("read", ip=V6)

    assert_restricted(http.get("read", ip="198.51.100.1"), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_the_first_family_is_enforced_before_the_second_is_bound(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4)

    assert_restricted(http.get("read", ip="198.51.100.1"), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_the_trade_off_the_first_use_of_the_second_family_is_trusted(http: Http, new_http: Callable[..., Http]) -> None:
    """Documented plainly: whoever first uses the other family binds it (the User-Agent still has to match)."""
    key = bound_cookie_session(http, ip=V4)
    thief = new_http()
    thief.client.cookies["sessionid"] = key

    assert kept(thief.get("read", ip="2001:db8:bad::1")) == {"value": "mine"}
    assert_restricted(http.get("read", ip=V6), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_the_second_family_is_not_bound_by_a_request_with_another_user_agent(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4, ua="Browser A")

    assert_restricted(http.get("read", ip=V6, ua="Browser B"), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_an_ipv4_mapped_address_is_the_first_family_not_a_second_one(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4)

    assert kept(http.get("read", ip=f"::ffff:{V4}")) == {"value": "mine"}
    assert bound(stored(key)).ip2 is UNBOUND
    assert_restricted(http.get("read", ip="::ffff:198.51.100.1"), key)


@pytest.mark.parametrize("address", ["garbage", "", None], ids=["garbage", "empty", "missing"])
@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_an_unreadable_address_is_still_a_change(http: Http, address: str | None) -> None:
    key = bound_cookie_session(http, ip=V4)

    assert_restricted(http.get("read", ip=address), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_once_both_families_are_bound_a_steady_request_writes_nothing(http: Http) -> None:
    bound_cookie_session(http, ip=V4)
    http.get("read", ip=V6)

    for address in (V4, V6):
        with CaptureQueriesContext(connection) as queries:
            assert kept(http.get("read", ip=address)) == {"value": "mine"}
        assert [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))] == []


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_a_header_session_keeps_both_families(header_http: Http) -> None:
    key = header_http.get("write", key="", ip=V6).headers["X-SessionID"]

    assert kept(header_http.get("read", key=key, ip=V4)) == {"value": "x"}
    assert kept(header_http.get("read", key=key, ip=V6)) == {"value": "x"}
    assert_restricted(header_http.get("read", key=key, ip="198.51.100.1"), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True, RESTRICTEDSESSIONS_STORE="hashed")
def test_dual_stack_works_with_the_hashed_store(http: Http) -> None:
    key = bound_cookie_session(http, ip=V4)

    assert kept(http.get("read", ip=V6)) == {"value": "mine"}
    assert re.fullmatch(r"#6[A-Za-z0-9_-]{22}", str(bound(stored(key)).ip2))
    assert kept(http.get("read", ip=V4)) == {"value": "mine"}
    assert_restricted(http.get("read", ip="2001:db8:9::7"), key)


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True, RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_dual_stack_with_authed_only_keeps_the_user_logged_in(http: Http, alice: object) -> None:
    http.post("login", {"username": "alice"}, ip=V4)

    assert http.get("whoami", ip=V6).json() == {"user": "alice"}
    assert http.get("whoami", ip=V4).json() == {"user": "alice"}
    response = http.get("whoami", ip="2001:db8:9::7")
    assert response.status_code == 400
    assert http.get("whoami", ip=V6).json() == {"user": None}
