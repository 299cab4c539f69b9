"""RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS: moving inside one trusted network is not a change.

For a corporate NAT pool or a mobile carrier range the operator trusts: a change between two
addresses that are both inside one listed network keeps the session; anything else is still a change.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.conftest import Http, stored
from tests.restriction_helpers import (
    assert_restricted,
    bound_cookie_session,
    bound_ip,
    kept,
)

pytestmark = pytest.mark.django_db

CARRIER = "100.64.0.0/10"
OFFICE = "192.0.2.0/24"
CARRIER_V6 = "2001:db8::/32"


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER])
def test_a_move_inside_an_exempt_network_keeps_the_session(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1")

    assert kept(http.get("read", ip="100.127.255.254")) == {"value": "mine"}
    assert kept(http.get("read", ip="100.100.0.9")) == {"value": "mine"}
    assert bound_ip(stored(key)) == "100.64.1.1"


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER])
def test_a_move_out_of_the_exempt_network_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1")

    assert_restricted(http.get("read", ip="198.51.100.1"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER])
def test_a_move_into_the_exempt_network_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, ip="198.51.100.1")

    assert_restricted(http.get("read", ip="100.64.1.1"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER, OFFICE])
def test_a_move_between_two_exempt_networks_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1")

    assert_restricted(http.get("read", ip="192.0.2.7"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[OFFICE])
def test_addresses_outside_every_exempt_network_are_compared_as_usual(http: Http) -> None:
    key = bound_cookie_session(http, ip="198.51.100.1")

    assert kept(http.get("read", ip="198.51.100.1")) == {"value": "mine"}
    assert_restricted(http.get("read", ip="198.51.100.2"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER_V6])
def test_an_ipv6_exempt_network_wider_than_the_prefix_length_keeps_the_session(http: Http) -> None:
    key = bound_cookie_session(http, ip="2001:db8:1::1")

    assert kept(http.get("read", ip="2001:db8:ffff:ffff::9")) == {"value": "mine"}
    assert_restricted(http.get("read", ip="2001:db9::1"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER])
def test_an_exempt_network_does_not_exempt_a_switch_to_ipv6(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1")

    assert_restricted(http.get("read", ip="2001:db8::1"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER])
def test_an_exempt_network_does_not_exempt_the_user_agent_check(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1", ua="Browser A")

    assert_restricted(http.get("read", ip="100.64.1.2", ua="Browser B"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER])
def test_an_exempt_network_does_not_let_an_unreadable_address_through(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1")

    assert_restricted(http.get("read", ip="garbage"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER])
def test_an_exempt_network_keeps_a_header_session(header_http: Http) -> None:
    key = header_http.get("write", key="", ip="100.64.1.1").headers["X-SessionID"]

    assert kept(header_http.get("read", key=key, ip="100.70.3.3")) == {"value": "x"}
    assert_restricted(header_http.get("read", key=key, ip="198.51.100.1"), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=["100.64.1.1"])
def test_a_single_address_entry_exempts_nothing_but_itself(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1")

    assert kept(http.get("read", ip="100.64.1.1")) == {"value": "mine"}
    assert_restricted(http.get("read", ip="100.64.1.2"), key)


@override_settings(
    RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER],
    RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.1.0.5"],
)
def test_exempt_networks_apply_to_the_client_behind_trusted_proxies(http: Http) -> None:
    key = bound_cookie_session(http, ip="10.1.0.5", headers={"X-Forwarded-For": "100.64.1.1"})

    assert kept(http.get("read", ip="10.1.0.5", headers={"X-Forwarded-For": "100.80.0.1"})) == {"value": "mine"}
    assert_restricted(http.get("read", ip="10.1.0.5", headers={"X-Forwarded-For": "198.51.100.1"}), key)


@override_settings(RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS=[CARRIER], RESTRICTEDSESSIONS_STORE="hashed")
def test_exempt_networks_work_with_the_hashed_store(http: Http) -> None:
    key = bound_cookie_session(http, ip="100.64.1.1")

    assert kept(http.get("read", ip="100.127.0.1")) == {"value": "mine"}
    assert_restricted(http.get("read", ip="198.51.100.1"), key)
