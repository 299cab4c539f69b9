"""RESTRICTEDSESSIONS_TRUSTED_PROXIES: the client IP behind proxies that cannot be forged.

Each trusted proxy appends the address it saw to X-Forwarded-For, so the middleware walks from
REMOTE_ADDR leftwards while each hop is a trusted proxy; the first untrusted hop is the client.
Whatever a client writes into the header itself stays to the left of that and is never chosen.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Warning, run_checks
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from restricted_sessions.middleware import RestrictedSessionsMiddleware
from tests.conftest import Http, stored
from tests.restriction_helpers import (
    assert_restricted,
    bound_cookie_session,
    bound_ip,
    kept,
)

pytestmark = pytest.mark.django_db

PROXY = "10.1.0.5"
CLIENT = "203.0.113.7"
ATTACKER = "198.51.100.50"


def via_proxy(forwarded_for: str, proxy: str = PROXY) -> dict[str, Any]:
    """Request arguments for a request that a proxy at ``proxy`` passed on."""
    return {"ip": proxy, "headers": {"X-Forwarded-For": forwarded_for}}


# One proxy ------------------------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_behind_one_trusted_proxy_the_client_is_the_address_it_appended(http: Http) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))

    assert bound_ip(stored(key)) == CLIENT
    assert kept(http.get("read", **via_proxy(CLIENT))) == {"value": "mine"}


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_behind_a_trusted_proxy_another_client_address_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))

    assert_restricted(http.get("read", **via_proxy(ATTACKER)), key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_only_the_client_is_bound_so_any_trusted_proxy_may_carry_it(http: Http) -> None:
    bound_cookie_session(http, **via_proxy(CLIENT))

    with override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY, "10.1.0.6"]):
        assert kept(http.get("read", **via_proxy(CLIENT, proxy="10.1.0.6"))) == {"value": "mine"}


# A chain of proxies, and CIDR entries ------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.1.0.0/16", "172.16.0.0/12"])
def test_behind_a_chain_of_trusted_proxies_the_walk_skips_every_trusted_hop(http: Http) -> None:
    # CDN edge (172.16.3.4) -> load balancer (10.1.0.5) -> Django.
    key = bound_cookie_session(http, **via_proxy(f"{CLIENT}, 172.16.3.4"))

    assert bound_ip(stored(key)) == CLIENT
    assert kept(http.get("read", **via_proxy(f"{CLIENT}, 172.31.255.1", proxy="10.1.200.9"))) == {"value": "mine"}
    assert_restricted(http.get("read", **via_proxy(f"{ATTACKER}, 172.16.3.4")), key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["2001:db8:ffff::/48", "10.1.0.0/16"])
def test_ipv6_proxy_networks_are_trusted_too(http: Http) -> None:
    key = bound_cookie_session(http, **via_proxy(f"{CLIENT}, 2001:db8:ffff::20", proxy="10.1.0.5"))

    assert bound_ip(stored(key)) == CLIENT
    assert kept(http.get("read", **via_proxy(CLIENT, proxy="2001:db8:ffff::10"))) == {"value": "mine"}


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.1.0.0/16"])
def test_an_ipv6_client_behind_the_proxy_is_bound_by_its_prefix(http: Http) -> None:
    key = bound_cookie_session(http, **via_proxy("2001:db8:1:2::7"))

    assert bound_ip(stored(key)) == "2001:db8:1:2::7"
    assert kept(http.get("read", **via_proxy("2001:db8:1:2::99"))) == {"value": "mine"}
    assert_restricted(http.get("read", **via_proxy("2001:db8:1:3::7")), key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_whitespace_around_forwarded_entries_is_allowed(http: Http) -> None:
    key = bound_cookie_session(http, **via_proxy(f"  {ATTACKER} ,   {CLIENT}  "))

    assert bound_ip(stored(key)) == CLIENT


# Forged entries ---------------------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_client_forged_left_most_entry_is_never_the_client_ip(http: Http) -> None:
    # The client sent "X-Forwarded-For: 192.0.2.99"; the proxy appended the address it saw.
    key = bound_cookie_session(http, **via_proxy(f"192.0.2.99, {CLIENT}"))

    assert bound_ip(stored(key)) == CLIENT


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_thief_cannot_pass_as_the_victim_by_forging_x_forwarded_for(http: Http, new_http: Any) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))
    thief = new_http()
    thief.client.cookies["sessionid"] = key

    # The thief sends "X-Forwarded-For: <victim>"; the proxy appends the thief's real address.
    response = thief.get("read", **via_proxy(f"{CLIENT}, {ATTACKER}"))

    assert_restricted(response, key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_thief_forging_a_trusted_proxy_address_gains_nothing(http: Http, new_http: Any) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))
    thief = new_http()
    thief.client.cookies["sessionid"] = key

    response = thief.get("read", **via_proxy(f"{CLIENT}, {PROXY}, {ATTACKER}"))

    assert_restricted(response, key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_an_untrusted_peer_is_the_client_and_its_header_is_ignored(http: Http, new_http: Any) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))
    direct = new_http()
    direct.client.cookies["sessionid"] = key

    # Straight to the app server, not through the proxy, claiming to be the victim.
    response = direct.get("read", ip=ATTACKER, headers={"X-Forwarded-For": CLIENT})

    assert_restricted(response, key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_session_started_by_an_untrusted_peer_is_bound_to_the_peer(http: Http) -> None:
    key = bound_cookie_session(http, ip=ATTACKER, headers={"X-Forwarded-For": CLIENT})

    assert bound_ip(stored(key)) == ATTACKER


# Malformed entries stop the walk: unknown, so a bound session fails closed --------------------

MALFORMED = {
    "garbage": "garbage",
    "with-port": f"{CLIENT}:4321",
    "bracketed": "[2001:db8::1]",
    "octet-out-of-range": "999.1.1.1",
    "empty-entry": "",
    "huge": "1" * 10_000,
}


@pytest.mark.parametrize("entry", MALFORMED.values(), ids=MALFORMED.keys())
@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_malformed_entry_on_the_walk_is_a_change_for_a_bound_session(http: Http, entry: str) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))

    assert_restricted(http.get("read", **via_proxy(f"{CLIENT}, {entry}")), key)


@pytest.mark.parametrize("entry", MALFORMED.values(), ids=MALFORMED.keys())
@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.1.0.0/16"])
def test_a_malformed_entry_between_trusted_proxies_is_a_change(http: Http, entry: str) -> None:
    key = bound_cookie_session(http, **via_proxy(f"{CLIENT}, 10.1.0.9"))

    assert_restricted(http.get("read", **via_proxy(f"{CLIENT}, {entry}, 10.1.0.9")), key)


@pytest.mark.parametrize("entry", MALFORMED.values(), ids=MALFORMED.keys())
@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_junk_the_client_wrote_left_of_its_address_is_never_reached(http: Http, entry: str) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))

    assert kept(http.get("read", **via_proxy(f"{entry}, {CLIENT}"))) == {"value": "mine"}
    assert bound_ip(stored(key)) == CLIENT


@pytest.mark.parametrize("entry", MALFORMED.values(), ids=MALFORMED.keys())
@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_malformed_entry_is_never_a_500(http: Http, entry: str) -> None:
    assert http.get("write", **via_proxy(f"{CLIENT}, {entry}")).status_code == 200
    assert http.get("read", **via_proxy(f"{CLIENT}, {entry}")).status_code < 500
    assert http.get("read", **via_proxy(CLIENT)).status_code < 500


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_an_unreadable_peer_address_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, **via_proxy(CLIENT))

    assert_restricted(http.get("read", ip="garbage", headers={"X-Forwarded-For": CLIENT}), key)


# REMOTE_ADDR_KEY names the header the proxies write ---------------------------------------------


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY], RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_REAL_IP")
def test_remote_addr_key_names_another_header_for_the_walk(http: Http) -> None:
    # nginx: proxy_set_header X-Real-IP $remote_addr;  X-Forwarded-For is whatever the client sent.
    headers = {"X-Real-IP": CLIENT, "X-Forwarded-For": ATTACKER}
    key = bound_cookie_session(http, ip=PROXY, headers=headers)

    assert bound_ip(stored(key)) == CLIENT
    assert kept(http.get("read", ip=PROXY, headers={"X-Real-IP": CLIENT})) == {"value": "mine"}
    assert_restricted(http.get("read", ip=PROXY, headers={"X-Real-IP": ATTACKER, "X-Forwarded-For": CLIENT}), key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY], RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_REAL_IP")
def test_with_another_header_an_untrusted_peer_is_still_the_client(http: Http, new_http: Any) -> None:
    key = bound_cookie_session(http, ip=PROXY, headers={"X-Real-IP": CLIENT})
    direct = new_http()
    direct.client.cookies["sessionid"] = key

    assert_restricted(direct.get("read", ip=ATTACKER, headers={"X-Real-IP": CLIENT}), key)


@override_settings(
    RESTRICTEDSESSIONS_TRUSTED_PROXIES=["173.245.48.0/20"],
    RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_CF_CONNECTING_IP",
)
def test_cloudflare_connecting_ip_from_a_cloudflare_address(http: Http, new_http: Any) -> None:
    key = bound_cookie_session(http, ip="173.245.48.10", headers={"CF-Connecting-IP": CLIENT})

    assert bound_ip(stored(key)) == CLIENT
    direct = new_http()
    direct.client.cookies["sessionid"] = key
    assert_restricted(direct.get("read", ip=ATTACKER, headers={"CF-Connecting-IP": CLIENT}), key)


@override_settings(
    RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY],
    RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_FORWARDED_FOR",
)
def test_remote_addr_key_x_forwarded_for_with_trusted_proxies_walks_instead_of_taking_the_first(
    http: Http,
) -> None:
    key = bound_cookie_session(http, **via_proxy(f"192.0.2.99, {CLIENT}"))

    assert bound_ip(stored(key)) == CLIENT
    assert_restricted(http.get("read", **via_proxy(f"{CLIENT}, {ATTACKER}")), key)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_header_session_behind_proxies_is_bound_to_the_client_too(header_http: Http) -> None:
    response = header_http.get("write", key="", **via_proxy(f"192.0.2.99, {CLIENT}"))
    key = response.headers["X-SessionID"]

    assert bound_ip(stored(key)) == CLIENT
    assert kept(header_http.get("read", key=key, **via_proxy(CLIENT))) == {"value": "x"}
    assert_restricted(header_http.get("read", key=key, **via_proxy(f"{CLIENT}, {ATTACKER}")), key)


# The W001 system check: a forwarding header without trusted proxies is spoofable -------------------


def our_messages() -> list[Any]:
    return [message for message in run_checks() if message.id and message.id.startswith("restricted_sessions.")]


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP"])
def test_a_forwarding_header_without_trusted_proxies_is_warned_about(header: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_REMOTE_ADDR_KEY=header):
        [message] = our_messages()

    assert isinstance(message, Warning)
    assert message.id == "restricted_sessions.W001"
    assert header in message.msg
    assert "TRUSTED_PROXIES" in (message.hint or "")


@override_settings(
    RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_FORWARDED_FOR", RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY]
)
def test_a_forwarding_header_with_trusted_proxies_is_not_warned_about() -> None:
    assert our_messages() == []


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_trusted_proxies_with_remote_addr_are_not_warned_about() -> None:
    assert our_messages() == []


def _ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


@override_settings(RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_FORWARDED_FOR")
def test_the_warning_does_not_stop_the_middleware_from_being_built() -> None:
    RestrictedSessionsMiddleware(_ok)


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=[PROXY])
def test_a_proxy_seen_through_an_ipv4_mapped_address_is_still_trusted(http: Http) -> None:
    # A dual-stack listening socket reports IPv4 peers as ::ffff:a.b.c.d.
    key = bound_cookie_session(http, **via_proxy(CLIENT, proxy=f"::ffff:{PROXY}"))

    assert bound_ip(stored(key)) == CLIENT
    assert kept(http.get("read", **via_proxy(f"::ffff:{CLIENT}", proxy=f"::ffff:{PROXY}"))) == {"value": "mine"}
