"""Hostile input through the full middleware stack (Client and AsyncClient), as hypothesis properties.

Whatever a client sends as its address (REMOTE_ADDR, X-Forwarded-For), User-Agent (any latin-1
text, which is what WSGI and ASGI make of arbitrary header bytes; empty; missing; up to 100 kB) and
session header (any text, long, empty, near-valid keys):

(a) the answer is never a 5xx;
(b) a request that names a bound session gets through only when it comes from the same client,
    computed here independently of the library with ``ipaddress``; otherwise it is refused (400)
    and the session is gone;
(c) a key chosen by the client is never adopted: no response carries it and the store never holds
    it, unless it is the real key of an existing session.

Every example binds a fresh session through the middleware, then sends one hostile request.
``HYPOTHESIS_PROFILE=ci`` (tox) runs each test with the "ci" profile of ``tests/hypothesis_profiles.py``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from django.conf import settings as django_settings
from hypothesis import event, given, note
from hypothesis import strategies as st
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.conftest import DEFAULT_UA, HEADER, Http, create_session, make_client, session_store, stored
from tests.hypothesis_profiles import wiring

pytestmark = pytest.mark.django_db

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# How the client address reaches the middleware, one settings scenario each.
DIRECT = "direct"  # REMOTE_ADDR (the default)
FORWARDED_FIRST = "forwarded-first"  # REMOTE_ADDR_KEY = "HTTP_X_FORWARDED_FOR": its first entry
TRUSTED = "trusted"  # TRUSTED_PROXIES: walk X-Forwarded-For from REMOTE_ADDR through trusted hops
HASHED = "hashed"  # as DIRECT, with STORE = "hashed"
SCENARIOS = (DIRECT, FORWARDED_FIRST, TRUSTED)

TRUSTED_PROXIES = ["10.9.0.0/16", "2001:db8:ffff::/48"]
PROXY_ADDRESSES = ["10.9.0.1", "10.9.255.254", "2001:db8:ffff::1", "::ffff:10.9.0.2"]
BOUND_ADDRESSES = ["10.0.0.1", "203.0.113.9", "2001:db8:1:2::5", "::ffff:198.51.100.4"]
BOUND_USER_AGENTS = [
    DEFAULT_UA,
    "x",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "caf\xe9 \xff\x80 not utf-8",
    "Mozilla/5.0 " + "A" * 600,  # stored as a digest
    "$sha256$" + "0" * 64,  # looks like a stored digest
    "B" * 100_000,
]
OTHER_UA = "OtherBrowser/2.0"

# Whether a request comes from the bound client, per the oracle below.
SAME, CHANGED, EITHER = "same", "changed", "either"


# The oracle: which client sent a request, computed with ipaddress only ---------------------


class Unknown:
    """No address, or one that is not an IP: never the bound client (fail closed)."""


class TooLong:
    """A valid address longer than the library reads (a huge IPv6 zone id): refusing it is fine."""


Seen = IPAddress | type[Unknown] | type[TooLong]


def parsed(text: str | None) -> Seen:
    if text is None:
        return Unknown
    text = text.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return Unknown
    if len(text) > 64:
        return TooLong
    return carried_ipv4(address)


WELL_KNOWN_NAT64 = bytes.fromhex("0064ff9b") + bytes(8)
LOCAL_USE_NAT64 = bytes.fromhex("0064ff9b0001")


def carried_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 client an IPv6 address carries (mapped, SIIT, compatible, NAT64), read from its bytes."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    octets = address.packed
    if octets[:12] in (bytes(10) + b"\xff\xff", bytes(8) + b"\xff\xff\0\0", WELL_KNOWN_NAT64):
        return ipaddress.IPv4Address(octets[12:])
    if octets[:12] == bytes(12) and octets[12] != 0:
        return ipaddress.IPv4Address(octets[12:])
    if octets[:6] == LOCAL_USE_NAT64 and octets[8] == 0:  # RFC 6052 2.2 for a /48, octet 8 skipped
        return ipaddress.IPv4Address(octets[6:8] + octets[9:11])
    return address


def is_trusted_proxy(address: IPAddress) -> bool:
    networks = [ipaddress.ip_network(network) for network in TRUSTED_PROXIES]
    return any(address.version == network.version and address in network for network in networks)


def seen_client(scenario: str, remote: str | None, forwarded: str | None) -> Seen:
    if scenario in (DIRECT, HASHED):
        return Unknown if remote is None else parsed(remote.split(",")[0])
    if scenario == FORWARDED_FIRST:
        return Unknown if forwarded is None else parsed(forwarded.split(",")[0])
    hops = [remote, *reversed(forwarded.split(",") if forwarded else [])]
    client: Seen = Unknown
    for hop in hops:
        client = parsed(hop)
        if client in (Unknown, TooLong) or not is_trusted_proxy(client):  # type: ignore[arg-type]
            return client
    return client  # every hop a trusted proxy: the left-most one


def same_network(a: IPAddress, b: IPAddress) -> bool:
    """The default prefixes: a whole IPv4 address, an IPv6 /64."""
    if a.version != b.version:
        return False
    return a.packed == b.packed if a.version == 4 else a.packed[:8] == b.packed[:8]


def verdict(bound_ip: IPAddress, bound_ua: str, seen: Seen, ua: str | None) -> str:
    if not ua or ua != bound_ua:
        return CHANGED
    if seen is Unknown:
        return CHANGED
    if seen is TooLong:
        return EITHER
    return SAME if same_network(bound_ip, seen) else CHANGED  # type: ignore[arg-type]


# Strategies ------------------------------------------------------------------------------

latin1 = st.characters(min_codepoint=0, max_codepoint=255)


def latin1_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(latin1, max_size=max_size)


def huge(max_size: int = 100_000) -> st.SearchStrategy[str]:
    """Long values without generating every character: a short chunk repeated."""
    return st.builds(
        lambda chunk, n: (chunk * n)[:max_size], st.text(latin1, min_size=1, max_size=40), st.integers(1, max_size)
    )


def same_client(bound: str) -> list[str]:
    """The bound client's address written as the library must read it: the same client."""
    address = parsed(bound)
    assert isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    values = [bound, f" {bound} ", str(address)]
    if isinstance(address, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address((0xFFFF << 32) | int(address))
        values += [f"::ffff:{address}", str(mapped), mapped.exploded]
    else:
        values += [
            address.exploded.upper(),
            str(ipaddress.IPv6Address(int(address) ^ 1)),
            str(ipaddress.IPv6Address(int(address) ^ (1 << 63))),
            f"{address}%eth0",
        ]
    return values


def variants_of_address(bound: str) -> list[str]:
    """The same client written differently, its neighbours, and near-misses."""
    address = parsed(bound)
    assert isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    values = [bound, f" {bound} ", f"{bound}\t", f"{bound}:5678", f"[{bound}]", f"{bound}/32", f"{bound}%eth0"]
    if isinstance(address, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address((0xFFFF << 32) | int(address))
        values += [
            str(address),
            f"::ffff:{address}",
            str(mapped),
            mapped.exploded,
            f"{mapped}%1",
            str(ipaddress.IPv4Address(int(address) ^ 1)),
            str(ipaddress.IPv4Address(int(address) ^ 0x100)),
            f"::{address}",  # IPv4-compatible: the same client (unless in 0.0.0.0/8)
            f"64:ff9b::{address}",  # NAT64: the same client
            f"64:ff9b::{ipaddress.IPv4Address(int(address) ^ 1)}",  # NAT64: another client
            ".".join(f"0{octet}" for octet in str(address).split(".")),  # leading zeros: not an IP
        ]
    else:
        values += [
            str(address),
            address.exploded,
            address.exploded.upper(),
            str(ipaddress.IPv6Address(int(address) ^ 1)),  # same /64
            str(ipaddress.IPv6Address(int(address) ^ (1 << 63))),  # same /64
            str(ipaddress.IPv6Address(int(address) ^ (1 << 64))),  # next /64
            f"{address}%{'z' * 70}",  # valid, but too long to read
        ]
    return values


MALFORMED = [
    "",
    " ",
    ",",
    "unknown",
    "999.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "::ffff:999.1.1.1",
    "localhost",
    "\x00",
    "::",
    "0.0.0.0",  # noqa: S104
]


@cache
def address_texts(bound: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(variants_of_address(bound)),
        st.sampled_from(PROXY_ADDRESSES + MALFORMED),
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda address: address.exploded),
        st.from_regex(r"[0-9a-fA-F:.%\[\] ]{0,45}", fullmatch=True),
        latin1_text(80),
    )


@cache
def address_lists(bound: str, max_size: int = 4) -> st.SearchStrategy[str]:
    """A forwarding-header value: addresses joined by commas (and maybe spaces)."""
    return st.builds(
        lambda parts, separator: separator.join(parts),
        st.lists(address_texts(bound), min_size=1, max_size=max_size),
        st.sampled_from([",", ", ", " ,"]),
    )


def optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), strategy)


@cache
def remote_addrs(bound: str) -> st.SearchStrategy[str | None]:
    """REMOTE_ADDR: often the bound client or a trusted proxy, so both outcomes are well covered."""
    same = st.sampled_from(same_client(bound))
    return st.one_of(st.none(), same, same, st.sampled_from(PROXY_ADDRESSES), address_lists(bound, 2))


@cache
def forwarded_values(bound: str) -> st.SearchStrategy[str | None]:
    """X-Forwarded-For: often ending (as a proxy appends) or starting with the bound client."""
    same = st.sampled_from(same_client(bound))
    appended = st.builds(lambda head, tail: f"{head}, {tail}", address_lists(bound, 3), same)
    return st.one_of(st.none(), same, appended, address_lists(bound))


@cache
def user_agents(bound: str) -> st.SearchStrategy[str | None]:
    near = [
        bound,
        bound + " ",
        " " + bound,
        bound[:-1],
        bound.upper(),
        bound.replace("1", "2"),
        bound + "\x00",
        bound.encode("utf-8", "surrogatepass").decode("latin-1"),  # the same text, its UTF-8 bytes
        "$sha256$" + hashlib.sha256(bound.encode("utf-8")).hexdigest(),  # what the store may hold
        "",
    ]
    # Only what HTTP can carry: header bytes arrive as latin-1 text ("\xff".upper() is not).
    near = [value for value in near if max(value, default="\x00") <= "\xff"]
    return st.one_of(st.just(bound), st.just(bound), st.none(), st.sampled_from(near), latin1_text(300), huge())


# Session-header values that look like a real key, made from it.
NEAR_KEYS: dict[str, Callable[[str], str]] = {
    "the real key": lambda real: real,
    "upper-cased": str.upper,
    "one character short": lambda real: real[:-1],
    "one character more": lambda real: real + "0",
    "rotated": lambda real: real[1:] + real[0],
    "leading space": lambda real: f" {real}",
    "trailing space": lambda real: f"{real} ",
    "twice": lambda real: f"{real},{real}",
    "first 8": lambda real: real[:8],
    "first 7": lambda real: real[:7],
    "40 characters": lambda real: real + "a" * 8,  # the longest key the check lets through
    "41 characters": lambda real: real + "a" * 9,
}
KEY_CHOICES = st.one_of(
    st.just(("near", "the real key")),
    st.sampled_from(sorted(NEAR_KEYS)).map(lambda name: ("near", name)),
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), min_size=8, max_size=40).map(
        lambda t: ("text", t)
    ),
    latin1_text(100).map(lambda text: ("text", text)),
    huge(10_000).map(lambda text: ("text", text)),
)


def key_from(choice: tuple[str, str], real: str) -> str:
    """The session-header value of a ``KEY_CHOICES`` draw, for the session whose key is ``real``."""
    kind, value = choice
    header = NEAR_KEYS[value](real) if kind == "near" else value
    note(f"X-SessionID: {header[:120]!r} ({len(header)} characters)")
    return header


# Running one example ----------------------------------------------------------------------


@dataclass
class Bound:
    """A session the middleware bound to one client."""

    key: str
    ip: IPAddress
    ua: str
    secret: str


@dataclass
class Probe:
    """One hostile request: what the client sends."""

    remote: str | None = None
    forwarded: str | None = None
    ua: str | None = None
    cookie: str | None = None
    header: str | None = None


@pytest.fixture
def scenario(request: pytest.FixtureRequest, settings: SettingsWrapper) -> str:
    """The settings of a scenario, applied once per test: changing settings in every example would
    pile up asgiref contextvars (every change makes new ``Local`` objects) and slow AsyncClient down."""
    scenario = str(getattr(request, "param", DIRECT))
    settings.ROOT_URLCONF = "tests.reliability_urls"
    if scenario == FORWARDED_FIRST:
        settings.RESTRICTEDSESSIONS_REMOTE_ADDR_KEY = "HTTP_X_FORWARDED_FOR"
    elif scenario == TRUSTED:
        settings.RESTRICTEDSESSIONS_TRUSTED_PROXIES = TRUSTED_PROXIES
    elif scenario == HASHED:
        settings.RESTRICTEDSESSIONS_STORE = "hashed"
    return scenario


def send(mode: str, probe: Probe) -> Any:
    http = Http(mode, make_client(mode))
    if probe.cookie is not None:
        http.client.cookies[django_settings.SESSION_COOKIE_NAME] = probe.cookie
    headers = {} if probe.forwarded is None else {"X-Forwarded-For": probe.forwarded}
    return http.get("peek", ip=probe.remote, ua=probe.ua, key=probe.header, headers=headers)


def bind(mode: str, scenario: str, ip: str, ua: str) -> Bound:
    """A client starts a session (the response that saves it binds it)."""
    proxy = PROXY_ADDRESSES[0]
    if scenario in (DIRECT, HASHED):
        probe = Probe(remote=ip, ua=ua)
    elif scenario == FORWARDED_FIRST:
        probe = Probe(remote="127.0.0.1", forwarded=ip, ua=ua)
    else:
        # A forged entry on the left, then what the trusted proxy appended.
        probe = Probe(remote=proxy, forwarded=f"6.6.6.6, {ip}", ua=ua)
    secret = secrets.token_hex(8)
    http = Http(mode, make_client(mode))
    headers = {} if probe.forwarded is None else {"X-Forwarded-For": probe.forwarded}
    response = http.get(
        "put", {"key": "secret", "value": secret}, ip=probe.remote, ua=probe.ua, key="", headers=headers
    )
    assert response.status_code == 200
    key = response.headers[HEADER]
    bound_ip = parsed(ip)
    assert isinstance(bound_ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    binding = stored(key)["_restrictedsessions"].split("|")[1]
    assert binding.startswith(f"#{bound_ip.version}") if scenario == HASHED else binding == str(bound_ip)
    return Bound(key, bound_ip, ua, secret)


def response_keys(response: Any) -> set[str]:
    keys = {response.headers.get(HEADER, "")}
    morsel = response.cookies.get(django_settings.SESSION_COOKIE_NAME)
    if morsel is not None:
        keys.add(morsel.value)
    return keys - {""}


def check(mode: str, scenario: str, sessions: list[Bound], probe: Probe) -> None:
    """Send ``probe`` and hold the response to properties (a), (b) and (c)."""
    response = send(mode, probe)
    # (a) never a server error
    assert response.status_code < 500

    by_key = {session.key: session for session in sessions}
    named = probe.header if probe.header is not None else probe.cookie
    target = by_key.get(named) if named is not None else None
    others = [session for session in sessions if session is not target]
    seen = seen_client(scenario, probe.remote, probe.forwarded)

    # (b) a bound session gets through only for its own client
    event(f"status {response.status_code}")
    if target is None:
        event("the probe names no bound session")
        assert response.status_code == 200
        assert "secret" not in response.json()["data"]
        allowed = False
    else:
        expected = verdict(target.ip, target.ua, seen, probe.ua)
        event(f"oracle: {expected}")
        allowed = response.status_code == 200
        if expected == SAME:
            assert allowed, (seen, probe)
        elif expected == CHANGED:
            assert response.status_code == 400, (seen, probe)
        else:
            assert response.status_code in (200, 400)
        if allowed:
            assert response.json()["data"]["secret"] == target.secret
        else:
            assert stored(target.key) == {}
            if probe.header is not None:
                # The header client is told to drop its key.
                assert response.headers[HEADER] == ""
    for other in others:
        assert stored(other.key)["secret"] == other.secret

    # (c) never a client-chosen key
    keys = response_keys(response)
    if not allowed:
        assert target is None or not keys
    for key in keys:
        assert stored(key), "a key in a response names a session in the store"
        assert key not in by_key or (allowed and key == target.key)  # type: ignore[union-attr]
    if probe.header and probe.header not in by_key:
        assert probe.header not in keys
        assert not session_store().exists(probe.header)


# The properties ---------------------------------------------------------------------------
# Each example draws everything first, then binds a session and sends the probe.


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
@wiring
@given(data=st.data())
def test_a_changed_address_is_refused_and_the_same_client_kept(mode: str, scenario: str, data: st.DataObject) -> None:
    bound_ip = data.draw(st.sampled_from(BOUND_ADDRESSES), "bound IP")
    probe = Probe(
        remote=data.draw(remote_addrs(bound_ip), "REMOTE_ADDR"),
        forwarded=data.draw(forwarded_values(bound_ip), "X-Forwarded-For"),
        ua=DEFAULT_UA,
    )
    in_header = data.draw(st.booleans(), "key in the header")
    session = bind(mode, scenario, bound_ip, DEFAULT_UA)
    if in_header:
        probe.header = session.key
    else:
        probe.cookie = session.key
    check(mode, scenario, [session], probe)


@wiring
@given(data=st.data())
def test_a_changed_user_agent_is_refused_and_the_same_one_kept(mode: str, scenario: str, data: st.DataObject) -> None:
    bound_ua = data.draw(st.sampled_from(BOUND_USER_AGENTS), "bound User-Agent")
    probe = Probe(remote=BOUND_ADDRESSES[0], ua=data.draw(user_agents(bound_ua), "User-Agent"))
    in_header = data.draw(st.booleans(), "key in the header")
    session = bind(mode, DIRECT, BOUND_ADDRESSES[0], bound_ua)
    if in_header:
        probe.header = session.key
    else:
        probe.cookie = session.key
    check(mode, DIRECT, [session], probe)


@wiring
@given(data=st.data())
def test_a_session_header_value_is_never_adopted(mode: str, scenario: str, data: st.DataObject) -> None:
    key_of_other = data.draw(st.booleans(), "made from the other session's key")
    choice = data.draw(KEY_CHOICES, "X-SessionID")
    cookie = data.draw(st.sampled_from(["none", "mine", "other"]), "cookie")
    probe = Probe(remote=BOUND_ADDRESSES[0], ua=data.draw(st.sampled_from([DEFAULT_UA, OTHER_UA, "Intruder/1.0"])))
    session = bind(mode, DIRECT, BOUND_ADDRESSES[0], DEFAULT_UA)
    # Another client's session, bound as django-restricted-sessions 0.4 stored it.
    other_secret = secrets.token_hex(8)
    other_key = create_session(
        {"secret": other_secret, "_restrictedsessions_ip": BOUND_ADDRESSES[0], "_restrictedsessions_ua": OTHER_UA}
    )
    other = Bound(other_key, ipaddress.IPv4Address(BOUND_ADDRESSES[0]), OTHER_UA, other_secret)
    probe.header = key_from(choice, other_key if key_of_other else session.key)
    probe.cookie = {"none": None, "mine": session.key, "other": other_key}[cookie]
    check(mode, DIRECT, [session, other], probe)


@pytest.mark.parametrize("scenario", [DIRECT, TRUSTED, HASHED], indirect=True)
@wiring
@given(data=st.data())
def test_anything_at_once_never_fails_open(mode: str, scenario: str, data: st.DataObject) -> None:
    bound_ip = data.draw(st.sampled_from(BOUND_ADDRESSES), "bound IP")
    bound_ua = data.draw(st.sampled_from(BOUND_USER_AGENTS[:4]), "bound User-Agent")
    probe = Probe(
        remote=data.draw(remote_addrs(bound_ip), "REMOTE_ADDR"),
        forwarded=data.draw(forwarded_values(bound_ip), "X-Forwarded-For"),
        ua=data.draw(user_agents(bound_ua), "User-Agent"),
    )
    choice = data.draw(st.one_of(st.none(), st.none(), KEY_CHOICES), "X-SessionID")
    with_cookie = data.draw(st.booleans(), "key in the cookie")
    session = bind(mode, scenario, bound_ip, bound_ua)
    probe.header = None if choice is None else key_from(choice, session.key)
    probe.cookie = session.key if with_cookie else None
    check(mode, scenario, [session], probe)
