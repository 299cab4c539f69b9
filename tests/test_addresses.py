"""restricted_sessions.addresses, .networks and .headers: pure functions on addresses, networks and headers.

Organised by feature: normalisation of addresses, normalisation of configured entries and their
problems, lookups, spellings (hypothesis), identity (golden values), the proxy walk, header reads.
"""

from __future__ import annotations

import io
import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import django
import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from restricted_sessions import headers
from restricted_sessions.addresses import (
    DEFAULT_MAX_PROXY_HOPS,
    MAX_ADDRESS_LENGTH,
    MAX_ENTRY_LENGTH,
    PARSE_CACHE_SIZE,
    AddressRules,
    client_behind_proxies,
    find_network,
    first_address,
    masked,
    max_proxy_hops_problems,
    network_identity,
    parse_ip,
    parse_networks,
)
from restricted_sessions.binding import Policy, Presented, decide
from restricted_sessions.networks import (
    DEFAULT_NAT64_PREFIXES,
    IPAddress,
    IPNetwork,
    NetworkSet,
    nat64_problems,
    network_entry_problems,
    network_problems,
)
from tests import hypothesis_profiles  # noqa: F401  (registers and loads the profiles)

# RFC 6052 section 2.4: 192.0.2.33 under a network-specific prefix of every length.
RFC6052_EXAMPLES = [
    ("2001:db8::/32", "2001:db8:c000:221::"),
    ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
    ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
    ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
    ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
    ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
]


def v4(value: str) -> IPv4Address:
    return IPv4Address(value)


def embed(address: IPv4Address, prefix: IPv6Network) -> IPv6Address:
    """RFC 6052 section 2.2, written with bytes: the 4 octets after the prefix, skipping octet 8."""
    octets = bytearray(prefix.network_address.packed)
    start = prefix.prefixlen // 8
    positions = [position for position in range(start, 16) if position != 8][:4]
    for position, octet in zip(positions, address.packed, strict=True):
        octets[position] = octet
    return IPv6Address(bytes(octets))


# Normalisation of addresses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.33", "192.0.2.33"),
        ("::ffff:192.0.2.33", "192.0.2.33"),  # IPv4-mapped, RFC 4291 2.5.5.2
        ("::FFFF:C000:0221", "192.0.2.33"),
        ("0:0:0:0:0:ffff:c000:221", "192.0.2.33"),
        ("::ffff:0:192.0.2.33", "192.0.2.33"),  # SIIT, RFC 7915
        ("::192.0.2.33", "192.0.2.33"),  # IPv4-compatible, RFC 4291 2.5.5.1
        ("64:ff9b::192.0.2.33", "192.0.2.33"),  # RFC 6052 well-known prefix
        ("64:FF9B::C000:221", "192.0.2.33"),
        ("64:ff9b:1:c000:2:2100::", "192.0.2.33"),  # RFC 8215 local-use /48
        ("64:ff9b:1:c000:2:2100:ffff:1", "192.0.2.33"),  # the suffix is ignored
    ],
)
def test_an_address_that_carries_an_ipv4_client_is_that_ipv4_address(text: str, expected: str) -> None:
    assert parse_ip(text) == v4(expected)


@pytest.mark.parametrize(
    "text",
    [
        "::",
        "::1",
        "::2",  # ::0.0.0.2: 0.0.0.0/8 is no IPv4 source, so not IPv4-compatible
        "::ff:ffff",
        "2001:db8::1",
        "64:ff9b::1:0:0",  # 64:ff9b::/64 but outside the /96
        "64:ff9b:1:c000:102:2100::",  # u-octet (bits 64-71) not zero: no embedding
        "fe80::1",
    ],
)
def test_other_ipv6_addresses_stay_ipv6(text: str) -> None:
    assert parse_ip(text) == ip_address(text)
    assert isinstance(parse_ip(text), IPv6Address)


def teredo(server: str, client: str, flags_and_port: str = "8000:63bf") -> str:
    """A Teredo address (RFC 4380 section 4): 2001::/32, the server, flags and port, the client inverted."""
    s, c = int(ip_address(server)), int(ip_address(client)) ^ 0xFFFFFFFF
    return f"2001:0:{s >> 16:x}:{s & 0xFFFF:x}:{flags_and_port}:{c >> 16:x}:{c & 0xFFFF:x}"


def test_a_teredo_address_is_the_ipv4_client_it_carries() -> None:
    # RFC 4380 section 4's example: client 192.0.2.45 behind server 65.54.227.120.
    assert parse_ip("2001:0:4136:e378:8000:63bf:3fff:fdd2") == v4("192.0.2.45")
    assert parse_ip(teredo("65.54.227.120", "198.51.100.66")) == v4("198.51.100.66")


def test_two_teredo_clients_of_one_server_are_two_clients() -> None:
    # They share a /64 (prefix, server, flags, port): compared as IPv6 they would be one client.
    policy = Policy()
    victim = parse_ip(teredo("65.54.227.120", "192.0.2.45"))
    thief = parse_ip(teredo("65.54.227.120", "198.51.100.66"))
    assert victim is not None
    assert thief is not None

    assert decide(policy, policy.new_binding(Presented(victim, "UA")), Presented(thief, "UA")).reason == "ip"
    assert decide(policy, policy.new_binding(Presented(victim, "UA")), Presented(v4("192.0.2.45"), "UA")).reason is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45/32"),
        ("2001:0:4136:e378:8000:63bf:3fff:fd00/120", "192.0.2.0/24"),
    ],
)
def test_a_teredo_entry_becomes_the_ipv4_network_of_its_clients(entry: str, expected: str) -> None:
    assert parse_networks((entry,)) == (ip_network(expected),)


@pytest.mark.parametrize("entry", ["2001::/32", "2001:0:4136:e378::/64"])
def test_a_teredo_entry_that_fixes_no_client_bits_is_a_problem(entry: str) -> None:
    [problem] = network_problems([entry])

    assert "Teredo" in problem


def test_a_nat64_prefix_inside_teredo_is_a_problem() -> None:
    [problem] = nat64_problems(["2001:0:1::/48"])

    assert "overlaps 2001::/32" in problem


@pytest.mark.parametrize(("prefix", "embedded"), RFC6052_EXAMPLES)
def test_a_site_nat64_prefix_of_every_rfc6052_length(prefix: str, embedded: str) -> None:
    rules = AddressRules(nat64_prefixes=[prefix])

    assert rules.parse(embedded) == v4("192.0.2.33")
    assert embed(v4("192.0.2.33"), IPv6Network(prefix)) == ip_address(embedded)
    # The default prefixes are not applied unless listed.
    assert rules.parse("64:ff9b::192.0.2.33") == ip_address("64:ff9b::192.0.2.33")
    assert parse_ip(embedded) == ip_address(embedded)


def test_the_default_nat64_prefixes_are_the_well_known_ones() -> None:
    assert DEFAULT_NAT64_PREFIXES == ("64:ff9b::/96", "64:ff9b:1::/48")
    assert AddressRules().parse("64:ff9b:1:c000:2:2100::") == v4("192.0.2.33")


@pytest.mark.parametrize(
    "text", ["garbage", "", "1.2.3.4:5678", "[::1]", "999.1.1.1", "1.2.3", "x" * 10_000, " 1.2.3.4x", "1" * 65]
)
def test_what_is_not_an_address_is_unknown(text: str) -> None:
    assert parse_ip(text) is None


def test_first_address_reads_the_first_entry() -> None:
    assert first_address(" ::ffff:192.0.2.1 , 10.0.0.1") == v4("192.0.2.1")
    assert first_address("192.0.2.1") == v4("192.0.2.1")
    assert first_address(None) is None
    assert first_address(", 192.0.2.1") is None
    assert first_address(" " * MAX_ENTRY_LENGTH + "192.0.2.1") is None
    assert first_address("192.0.2.1,198.51.100.1,203.0.113.7") == v4("192.0.2.1")


def test_an_address_of_up_to_64_characters_is_parsed() -> None:
    """The longest real spelling (IPv6, embedded IPv4, zone id) fits; longer values never reach the cache."""
    zoned = "fe80::1%" + "a" * (MAX_ADDRESS_LENGTH - 8)

    assert MAX_ADDRESS_LENGTH == 64
    assert parse_ip(zoned) == IPv6Address(zoned)
    assert parse_ip(zoned + "a") is None


def test_an_entry_of_up_to_256_characters_is_parsed_with_its_whitespace() -> None:
    rules = AddressRules()
    padded = " " * (MAX_ENTRY_LENGTH - len("192.0.2.1")) + "192.0.2.1"

    assert MAX_ENTRY_LENGTH == 256
    assert rules.parse_entry(padded) == v4("192.0.2.1")
    assert rules.parse_entry(" " + padded) is None
    assert rules.parse_entry("192.0.2.1") == v4("192.0.2.1")
    assert rules.parse_entry("x192.0.2.1,", 1, 10) == v4("192.0.2.1")


def test_the_parse_cache_of_a_rules_object_is_bounded() -> None:
    assert AddressRules()._parse.cache_info().maxsize == PARSE_CACHE_SIZE == 4096  # type: ignore[attr-defined]


# Configured entries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("10.0.0.5", "10.0.0.5/32"),
        ("::ffff:10.0.0.5", "10.0.0.5/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:0:10.0.0.0/120", "10.0.0.0/24"),
        ("::10.0.0.0/104", "10.0.0.0/8"),
        ("64:ff9b::192.0.2.0/120", "192.0.2.0/24"),
        ("64:ff9b::/96", "0.0.0.0/0"),
        ("64:ff9b:1:c000::/64", "192.0.0.0/16"),
        ("64:ff9b:1:c000::/72", "192.0.0.0/16"),
        ("64:ff9b:1:c000:2::/80", "192.0.2.0/24"),
        ("64:ff9b:1:c000:2:2100::/88", "192.0.2.33/32"),
        ("64:ff9b:1:c000:2:2100::/128", "192.0.2.33/32"),
        ("::1", "::1/128"),
        ("::/128", "::/128"),
        ("::/104", "::/104"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:0DB8:0000::/48", "2001:db8::/48"),
        ("::/0", "::/0"),  # wider than the embedding prefixes: IPv6 only
    ],
)
def test_a_configured_entry_is_normalised_like_an_address(entry: str, expected: str) -> None:
    assert parse_networks((entry,)) == (ip_network(expected),)
    assert network_problems([entry]) == []


@pytest.mark.parametrize(("prefix", "embedded"), RFC6052_EXAMPLES)
def test_an_entry_inside_a_site_nat64_prefix_becomes_its_ipv4_network(prefix: str, embedded: str) -> None:
    assert parse_networks((embedded,), (prefix,)) == (IPv4Network("192.0.2.33/32"),)
    assert parse_networks((prefix,), (prefix,)) == (IPv4Network("0.0.0.0/0"),)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("64:ff9b:1:c000:100::/72", "bits 64-71"),
        ("64:ff9b:1:c000:8000::/65", "bits 64-71"),
        ("::/96", "IPv4-compatible"),
        ("::/100", "IPv4-compatible"),
        ("garbage", "not an IP address"),
        ("10.0.0.0/33", "not an IP address"),
        ("1.2.3.4:80", "not an IP address"),
    ],
)
def test_an_entry_that_can_never_match_is_a_problem_naming_it(entry: str, words: str) -> None:
    [problem] = network_problems(["10.0.0.0/8", entry])

    assert repr(entry) in problem
    assert words in problem
    with pytest.raises(ValueError, match=words):
        parse_networks(("10.0.0.0/8", entry))
    with pytest.raises(ValueError, match=words):
        AddressRules(exempt_networks=[entry])


@pytest.mark.parametrize(
    ("entry", "covered", "fix"),
    [
        ("10.0.0.1/8", "10.0.0.0/8", "Write '10.0.0.0/8' if you mean that network, or '10.0.0.1' for the one address."),
        (
            "::ffff:10.1.2.3/104",
            "10.0.0.0/8",
            "Write '10.0.0.0/8' if you mean that network, or '10.1.2.3' for the one address.",
        ),
        (
            "::ffff:10.0.0.0/100",
            "0.0.0.0/4",
            "Write '0.0.0.0/4' if you mean that network, or '10.0.0.0' for the one address.",
        ),
        (
            "2001:db8::1/32",
            "2001:db8::/32",
            "Write '2001:db8::/32' if you mean that network, or '2001:db8::1' for the one address.",
        ),
    ],
)
def test_an_entry_with_host_bits_set_is_a_problem_naming_the_network_it_would_cover(
    entry: str, covered: str, fix: str
) -> None:
    # As ipaddress.ip_network(strict=True), and as NAT64_PREFIXES: the entry is not a network.
    [problem] = network_entry_problems(["10.0.0.0/8", entry])

    assert problem.problem == (
        f"{entry!r} has host bits set, which ipaddress.ip_network(strict=True) refuses: it would cover all of {covered}"
    )
    assert problem.fix == fix
    assert network_problems([entry]) == [problem.problem]
    with pytest.raises(ValueError, match="host bits"):
        parse_networks((entry,))
    with pytest.raises(ValueError, match="host bits"):
        AddressRules(trusted_proxies=[entry])


def test_only_an_entry_with_host_bits_set_has_a_fix_of_its_own() -> None:
    assert [problem.fix for problem in network_entry_problems(["a", 5, "::/96"])] == [None, None, None]
    assert network_entry_problems("10.0.0.0/8")[0].fix is None


def test_problems_are_one_per_bad_entry_and_never_raise() -> None:
    assert len(network_problems(["a", "b", 5, "10.0.0.0/8"])) == 3
    assert "not a string" in network_problems([None])[0]
    assert network_problems("10.0.0.0/8") == ["must be a list of IP addresses or networks (strings), not '10.0.0.0/8'"]
    # Bad NAT64 prefixes are left to nat64_problems; the valid ones still apply.
    assert network_problems(["2001:db8:100:c000:200::/72"], ["2001:db8:100::/40", "junk"]) != []
    assert network_problems(["2001:db8:1c0:2:21::"], ["2001:db8:100::/40", "junk"]) == []


@pytest.mark.parametrize(
    ("prefixes", "words"),
    [
        (["2001:db8::/33"], "length 32, 40, 48, 56, 64, 96"),
        (["10.0.0.0/8"], "length 32, 40, 48, 56, 64, 96"),
        (["2001:db8::1/96"], "host bits"),
        (["junk"], "host bits"),
        ([96], "not a string"),
        # Python 3.13 spells IPv4-mapped networks "::ffff:0.0.0.0/96"; earlier versions "::ffff:0:0/96".
        (["::/32"], f"overlaps {ipaddress.ip_network('::ffff:0:0/96')}"),
        ([*DEFAULT_NAT64_PREFIXES, "64:ff9b::/32"], "overlaps 64:ff9b::/96"),
        (["2001:db8::/32", "2001:db8:122::/48"], "overlaps 2001:db8::/32"),
    ],
)
def test_nat64_prefix_problems_name_the_entry_and_the_rule(prefixes: list[Any], words: str) -> None:
    [problem] = nat64_problems(prefixes)

    assert words in problem
    with pytest.raises(ValueError, match=words.split()[0]):
        AddressRules(nat64_prefixes=prefixes)


def test_valid_nat64_prefixes_have_no_problems() -> None:
    assert nat64_problems(list(DEFAULT_NAT64_PREFIXES)) == []
    assert nat64_problems([*DEFAULT_NAT64_PREFIXES, "2001:db8:64::/96", "2001:db8:64::/96"]) == []
    assert nat64_problems([]) == []
    assert nat64_problems("64:ff9b::/96") == ["must be a list of IPv6 prefixes (strings), not '64:ff9b::/96'"]


def test_max_proxy_hops_is_at_least_one() -> None:
    for value in (0, -1, True, 1.5, "10"):
        with pytest.raises(ValueError, match="max_proxy_hops"):
            AddressRules(max_proxy_hops=value)  # type: ignore[arg-type]
    assert AddressRules(max_proxy_hops=1).max_proxy_hops == 1
    assert max_proxy_hops_problems(0) == ["must be a whole number of at least 1 (10 by default), not 0"]
    assert max_proxy_hops_problems(3) == []
    assert DEFAULT_MAX_PROXY_HOPS == 10


# Lookups ---------------------------------------------------------------------------------------


def test_the_widest_exempt_network_is_the_identity_whatever_the_order() -> None:
    for order in (["10.1.0.0/16", "10.0.0.0/8"], ["10.0.0.0/8", "10.1.0.0/16"]):
        rules = AddressRules(exempt_networks=order)
        assert rules.exempt_network(v4("10.1.2.3")) == IPv4Network("10.0.0.0/8")
        assert rules.identity(v4("10.1.2.3"), 32, 64) == "net:10.0.0.0/8"
        assert rules.identity(v4("10.200.2.3"), 32, 64) == "net:10.0.0.0/8"


def test_adjacent_exempt_networks_stay_distinct() -> None:
    rules = AddressRules(exempt_networks=["10.0.0.0/9", "10.128.0.0/9"])

    assert rules.identity(v4("10.0.0.1"), 32, 64) == "net:10.0.0.0/9"
    assert rules.identity(v4("10.128.0.1"), 32, 64) == "net:10.128.0.0/9"
    assert rules.identity(v4("11.0.0.1"), 32, 64) == "4:184549377/32"


def test_an_exempt_network_in_mapped_form_matches() -> None:
    rules = AddressRules(exempt_networks=["::ffff:100.64.0.0/106"])

    assert rules.identity(v4("100.64.1.1"), 32, 64) == rules.identity(v4("100.127.0.9"), 32, 64)
    assert rules.identity(rules.parse("::ffff:100.70.0.1"), 32, 64) == "net:100.64.0.0/10"  # type: ignore[arg-type]


def test_the_network_set_is_the_tuple_of_its_normalised_entries() -> None:
    networks = parse_networks(("::ffff:10.0.0.5", "2001:db8::/32"))

    assert isinstance(networks, NetworkSet)
    assert networks == (IPv4Network("10.0.0.5/32"), IPv6Network("2001:db8::/32"))
    assert not parse_networks(())
    assert find_network(v4("10.0.0.5"), networks) == IPv4Network("10.0.0.5/32")
    # A plain tuple is prepared on the way (and ::ffff:10.0.0.5 is 10.0.0.5 there too).
    assert find_network(ip_address("::ffff:10.0.0.5"), (IPv4Network("10.0.0.0/8"),)) == IPv4Network("10.0.0.0/8")
    assert find_network(v4("10.0.0.5"), ()) is None


def linear_widest(address: IPAddress, networks: list[IPNetwork]) -> IPNetwork | None:
    holding = [net for net in networks if net.version == address.version and address in net]
    return min(holding, key=lambda net: net.prefixlen) if holding else None


ipv4_networks = st.builds(
    lambda value, length: IPv4Network((value >> (32 - length) << (32 - length), length)),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
ipv6_networks = st.builds(
    lambda value, length: IPv6Network((value >> (128 - length) << (128 - length), length)),
    st.integers(2**125, 2**126 - 1),  # inside 2000::/3: no embedding prefix
    st.integers(3, 128),
)


@given(
    st.lists(st.one_of(ipv4_networks, ipv6_networks), max_size=30),
    st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6).filter(lambda a: int(a) >> 125 == 1)),
)
def test_lookups_answer_as_a_linear_scan_would(networks: list[IPNetwork], address: IPAddress) -> None:
    near = [net for net in networks if net.version == address.version]
    # Half the time, an address inside one of the networks.
    if near:
        network = near[int(address) % len(near)]
        address = ip_address(int(network.network_address) + int(address) % network.num_addresses)
    networks_set = NetworkSet(networks)

    assert networks_set.find(address) == linear_widest(address, networks)
    assert networks_set.contains(address) == (linear_widest(address, networks) is not None)


# Every spelling of an address compares the same ------------------------------------------------

SITE_PREFIXES = ["2001:db8:100::/40", "2001:db8:200::/56", "2001:db8:300::/64"]
SPELLING_RULES = AddressRules(
    trusted_proxies=["192.0.2.0/25", "::ffff:198.51.100.0/120", "2001:db8:ffff::/48"],
    exempt_networks=["64:ff9b::100.64.0.0/106", "203.0.113.128/25", "2001:db8:eeee::/48"],
    nat64_prefixes=[*DEFAULT_NAT64_PREFIXES, *SITE_PREFIXES],
)
EMBEDDING_PREFIXES = [IPv6Network(prefix) for prefix in ("::ffff:0:0/96", "::ffff:0:0:0/96", *DEFAULT_NAT64_PREFIXES)]
EMBEDDING_PREFIXES += [IPv6Network(prefix) for prefix in SITE_PREFIXES]
interesting_ipv4 = st.one_of(
    st.ip_addresses(v=4),
    st.sampled_from(["192.0.2.1", "192.0.2.200", "198.51.100.7", "100.64.0.1", "100.127.255.255", "203.0.113.200"]).map(
        IPv4Address
    ),
)


def ipv4_spellings(address: IPv4Address) -> list[str]:
    spellings = [str(address)]
    for prefix in EMBEDDING_PREFIXES:
        embedded = embed(address, prefix)
        spellings += [str(embedded), embedded.exploded, embedded.exploded.upper(), str(embedded).upper()]
    spellings.append(f"::ffff:{address}")
    if int(address) >= 1 << 24:
        spellings += [f"::{address}", f"0:0:0:0:0:0:{address}"]
    return spellings


def answers(rules: AddressRules, text: str) -> tuple[object, ...]:
    address = rules.parse(text)
    assert address is not None
    return (
        address,
        rules.identity(address, 32, 64),
        rules.identity(address, 24, 48),
        rules.trusted.contains(address),
        rules.exempt_network(address),
        rules.client(text, "203.0.113.9"),
    )


@given(interesting_ipv4)
def test_every_spelling_of_an_ipv4_address_gives_the_same_answers(address: IPv4Address) -> None:
    expected = answers(SPELLING_RULES, str(address))

    for spelling in ipv4_spellings(address):
        assert answers(SPELLING_RULES, spelling) == expected, spelling
    assert expected[0] == address


@given(st.ip_addresses(v=6).filter(lambda a: int(a) >> 125 == 1), st.booleans())
def test_every_spelling_of_an_ipv6_address_gives_the_same_answers(address: IPv6Address, inside: bool) -> None:
    if inside:
        address = IPv6Address(int(IPv6Address("2001:db8:eeee::")) | int(address) & (2**80 - 1))
    expected = answers(SPELLING_RULES, str(address))

    for spelling in (address.exploded, address.exploded.upper(), str(address).upper()):
        assert answers(SPELLING_RULES, spelling) == expected, spelling


@given(interesting_ipv4, st.sampled_from(EMBEDDING_PREFIXES))
def test_a_configured_entry_matches_every_spelling_of_its_addresses(address: IPv4Address, prefix: IPv6Network) -> None:
    rules = AddressRules(
        trusted_proxies=[str(embed(address, prefix))], nat64_prefixes=[*DEFAULT_NAT64_PREFIXES, *SITE_PREFIXES]
    )

    for spelling in ipv4_spellings(address):
        assert rules.trusted.contains(rules.parse(spelling)), spelling  # type: ignore[arg-type]
    assert not rules.trusted.contains(IPv4Address(int(address) ^ 1))


# Identity: the strings the hashed store keeps ---------------------------------------------------

# Made by restricted_sessions 1.0's network_identity; a change would log out every hashed session.
GOLDEN_IDENTITIES = [
    ("203.0.113.7", 32, 64, (), "4:3405803783/32"),
    ("203.0.113.7", 24, 64, (), "4:13303921/24"),
    ("203.0.113.7", 0, 64, (), "4:0/0"),
    ("0.0.0.0", 32, 64, (), "4:0/32"),  # noqa: S104
    ("255.255.255.255", 16, 64, (), "4:65535/16"),
    ("2001:db8:85a3::8a2e:370:7334", 32, 64, (), "6:2306139570357600256/64"),
    ("2001:db8:85a3::8a2e:370:7334", 32, 48, (), "6:35188897252771/48"),
    ("2001:db8:85a3::8a2e:370:7334", 32, 128, (), "6:42540766452641154071740215577757643572/128"),
    ("2001:db8:85a3::8a2e:370:7334", 32, 0, (), "6:0/0"),
    ("::1", 32, 64, (), "6:0/64"),
    ("fe80::1", 32, 64, (), "6:18338657682652659712/64"),
    ("::ffff:203.0.113.7", 32, 64, (), "4:3405803783/32"),
    ("100.64.1.1", 32, 64, ("100.64.0.0/10",), "net:100.64.0.0/10"),
    ("2001:db8:1::1", 32, 64, ("2001:db8::/32",), "net:2001:db8::/32"),
    ("192.0.2.7", 32, 64, ("192.0.2.0/24", "100.64.0.0/10"), "net:192.0.2.0/24"),
    ("198.51.100.1", 32, 64, ("192.0.2.0/24",), "4:3325256705/32"),
    ("10.1.2.3", 32, 64, ("10.1.2.3",), "net:10.1.2.3/32"),
    ("2001:db8::5", 32, 64, ("2001:db8::5",), "net:2001:db8::5/128"),
    ("2001:db8::5", 32, 64, ("2001:0DB8:0000::/48",), "net:2001:db8::/48"),
]


@pytest.mark.parametrize(("text", "ipv4_length", "ipv6_length", "exempt", "identity"), GOLDEN_IDENTITIES)
def test_identities_are_those_of_1_0(
    text: str, ipv4_length: int, ipv6_length: int, exempt: tuple[str, ...], identity: str
) -> None:
    address = parse_ip(text)
    assert address is not None

    assert network_identity(address, ipv4_length, ipv6_length, parse_networks(exempt)) == identity
    assert AddressRules(exempt_networks=exempt).identity(address, ipv4_length, ipv6_length) == identity


def test_embedded_clients_no_longer_share_an_ipv6_prefix() -> None:
    # The fault: every NAT64 client of one gateway shared the /64 of 64:ff9b::.
    victim = parse_ip("64:ff9b::203.0.113.7")
    thief = parse_ip("64:ff9b::198.51.100.66")
    assert victim is not None
    assert thief is not None

    assert network_identity(victim, 32, 64) == "4:3405803783/32"
    assert network_identity(victim, 32, 64) != network_identity(thief, 32, 64)
    # An unnormalised address given directly is normalised too.
    assert network_identity(IPv6Address("::ffff:203.0.113.7"), 32, 64) == "4:3405803783/32"


def test_masked_keeps_the_slash_24_or_slash_48() -> None:
    assert masked(v4("203.0.113.7")) == "203.0.113.0/24"
    assert masked(IPv6Address("2001:db8:85a3::1")) == "2001:db8:85a3::/48"
    assert masked(None) == "-"


# The proxy walk ---------------------------------------------------------------------------------

PROXIES = AddressRules(trusted_proxies=["10.0.0.0/8", "::ffff:172.16.0.0/108", "2001:db8:ffff::/48"])


@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # an untrusted peer is the client
        ("10.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        ("::ffff:10.0.0.1", " 203.0.113.7 , 172.16.5.5 ", "203.0.113.7"),
        ("2001:db8:ffff::1", "64:ff9b::203.0.113.7", "203.0.113.7"),
        ("10.0.0.1", "10.0.0.2, 10.0.0.3", "10.0.0.2"),  # every hop trusted: the left-most
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
        ("10.0.0.1", "junk, 203.0.113.7", "203.0.113.7"),  # never read
        ("10.0.0.1", "203.0.113.7, junk", None),
        ("10.0.0.1", "203.0.113.7,", None),
        ("10.0.0.1", "203.0.113.7:443", None),
        ("junk", "203.0.113.7", None),
        (None, "203.0.113.7", None),
    ],
)
def test_the_walk_stops_at_the_first_untrusted_hop(remote: str | None, forwarded: str | None, client: str) -> None:
    expected = None if client is None else ip_address(client)

    assert PROXIES.client(remote, forwarded) == expected
    assert client_behind_proxies(remote, forwarded, PROXIES.trusted) == expected


def test_the_walk_reads_at_most_max_proxy_hops_trusted_hops() -> None:
    rules = AddressRules(trusted_proxies=["10.0.0.0/8"], max_proxy_hops=3)

    # The peer and two forwarded proxies: three trusted hops, then the client.
    assert rules.client("10.0.0.1", "203.0.113.7, 10.0.0.3, 10.0.0.2") == v4("203.0.113.7")
    assert rules.client("10.0.0.1", "10.0.0.3, 10.0.0.2") == v4("10.0.0.3")
    # A fourth trusted hop: unknown, wherever the client is.
    assert rules.client("10.0.0.1", "203.0.113.7, 10.0.0.4, 10.0.0.3, 10.0.0.2") is None
    assert rules.client("10.0.0.1", "10.0.0.4, 10.0.0.3, 10.0.0.2") is None
    assert client_behind_proxies("10.0.0.1", "10.0.0.4, 10.0.0.3, 10.0.0.2", rules.trusted, 3) is None
    assert client_behind_proxies("10.0.0.1", "10.0.0.4, 10.0.0.3, 10.0.0.2", rules.trusted, 4) == v4("10.0.0.4")


@pytest.mark.parametrize("entries", [10_000, 100_000])
def test_a_huge_header_of_trusted_proxies_is_unknown(entries: int) -> None:
    header = "203.0.113.7, " + ", ".join(["10.0.0.2"] * entries)

    assert PROXIES.client("10.0.0.1", header) is None
    assert PROXIES.client("10.0.0.1", header + ", 198.51.100.1") == v4("198.51.100.1")


def test_an_empty_left_most_entry_is_never_read() -> None:
    assert PROXIES.client("10.0.0.1", ",203.0.113.7") == v4("203.0.113.7")
    assert PROXIES.client("10.0.0.1", ",10.0.0.2") is None


def test_a_long_entry_is_unknown_without_reading_it() -> None:
    assert PROXIES.client("10.0.0.1", " " * MAX_ENTRY_LENGTH + "203.0.113.7") is None
    assert PROXIES.client("10.0.0.1", " " * (MAX_ENTRY_LENGTH - 20) + "203.0.113.7") == v4("203.0.113.7")
    assert PROXIES.client("10.0.0.1", "1" * 65_536) is None


def reference_walk(rules: AddressRules, remote: str | None, forwarded: str | None) -> IPAddress | None:
    """1.0's walk, unbounded: split the whole header and read every hop."""
    hops = [remote, *reversed(forwarded.split(",") if forwarded else [])]
    client = None
    for trusted, hop in enumerate(hops):
        client = None if hop is None else rules.parse(hop.strip())
        if client is None or not rules.trusted.contains(client):
            return client
        if trusted + 1 > rules.max_proxy_hops:
            return None
    return client


hop_texts = st.sampled_from(
    [
        *("10.0.0.1", "10.9.9.9", "::ffff:10.0.0.7", "172.16.0.9", "203.0.113.7", "2001:db8:ffff::5", "2001:db8::5"),
        *("64:ff9b::203.0.113.8", "junk", "", " 198.51.100.1 "),
    ]
)


@given(st.one_of(st.none(), hop_texts), st.lists(hop_texts, max_size=14), st.integers(1, 12))
def test_the_walk_answers_as_the_unbounded_walk_within_the_bound(
    remote: str | None, entries: list[str], max_hops: int
) -> None:
    rules = AddressRules(trusted_proxies=["10.0.0.0/8", "::ffff:172.16.0.0/108"], max_proxy_hops=max_hops)
    forwarded = ",".join(entries) if entries else None

    assert rules.client(remote, forwarded) == reference_walk(rules, remote, forwarded)


# Header reads -------------------------------------------------------------------------------------


def asgi_request(raw_headers: list[tuple[bytes, bytes]]) -> ASGIRequest:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": raw_headers,
        "client": ("10.0.0.2", 50000),
        "server": ("testserver", 80),
    }
    return ASGIRequest(scope, io.BytesIO())


def as_older_django(request: ASGIRequest) -> ASGIRequest:
    """META as Django before 5.2.13 / 6.0.4 fills it: underscored names joined in too."""
    joined: dict[str, list[str]] = {}
    for name, value in request.scope["headers"]:
        joined.setdefault(headers.meta_key_of(name), []).append(value.decode("latin1"))
    request.META.update({key: ",".join(values) for key, values in joined.items()})
    return request


@pytest.fixture
def older_django(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(headers, "SCAN_ASGI_HEADERS", True)


@pytest.mark.parametrize(
    ("version", "drops"),
    [
        ((5, 2, 0, "final", 0), False),
        ((5, 2, 12, "final", 0), False),
        ((5, 2, 13, "final", 0), True),
        ((5, 2, 19, "final", 0), True),
        ((6, 0, 0, "final", 0), False),
        ((6, 0, 3, "final", 0), False),
        ((6, 0, 4, "final", 0), True),
        ((6, 1, 0, "alpha", 0), True),
        ((7, 0, 0, "final", 0), True),
    ],
)
def test_which_django_releases_drop_underscored_headers(version: tuple[int | str, ...], drops: bool) -> None:
    assert headers.drops_underscored_headers(version) is drops


def test_the_scan_is_decided_by_the_running_django() -> None:
    assert headers.SCAN_ASGI_HEADERS is not headers.drops_underscored_headers(django.VERSION)


def test_under_wsgi_meta_is_read_as_it_is() -> None:
    request = RequestFactory().get("/", headers={"X-Forwarded-For": "203.0.113.7"})

    assert headers.header(request, "HTTP_X_FORWARDED_FOR") == "203.0.113.7"
    assert headers.header(request, "HTTP_X_REAL_IP") is None


def test_under_asgi_this_django_never_joins_an_underscored_name() -> None:
    request = asgi_request([(b"x-forwarded-for", b"203.0.113.7"), (b"x_forwarded_for", b"198.51.100.9")])

    assert headers.header(request, "HTTP_X_FORWARDED_FOR") == "203.0.113.7"


@pytest.mark.usefixtures("older_django")
@pytest.mark.parametrize(
    ("raw", "meta_key", "expected"),
    [
        ([(b"x-forwarded-for", b"6.6.6.6"), (b"x_forwarded_for", b"198.51.100.9")], "HTTP_X_FORWARDED_FOR", "6.6.6.6"),
        (
            [(b"x-forwarded-for", b"1.1.1.1"), (b"X_Forwarded-For", b"9.9.9.9"), (b"x-forwarded-for", b"2.2.2.2")],
            "HTTP_X_FORWARDED_FOR",
            "1.1.1.1,2.2.2.2",
        ),
        ([(b"x_forwarded_for", b"198.51.100.9")], "HTTP_X_FORWARDED_FOR", None),
        ([(b"x-sessionid", b"good"), (b"x_sessionid", b"stolen")], "HTTP_X_SESSIONID", "good"),
        ([(b"x_sessionid", b"stolen")], "HTTP_X_SESSIONID", None),
        ([(b"content-type", b"text/plain"), (b"content_type", b"x")], "CONTENT_TYPE", "text/plain"),
        # Another header's underscored name leaves this one alone.
        ([(b"x-forwarded-for", b"1.1.1.1"), (b"x_real_ip", b"9.9.9.9")], "HTTP_X_FORWARDED_FOR", "1.1.1.1"),
        (
            [(b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"2.2.2.2")],
            "HTTP_X_FORWARDED_FOR",
            "1.1.1.1,2.2.2.2",
        ),
        ([], "HTTP_X_FORWARDED_FOR", None),
    ],
)
def test_under_asgi_on_an_older_django_only_hyphenated_names_are_read(
    raw: list[tuple[bytes, bytes]], meta_key: str, expected: str | None
) -> None:
    request = as_older_django(asgi_request(raw))

    assert headers.header(request, meta_key) == expected


@pytest.mark.usefixtures("older_django")
def test_the_smuggled_address_never_becomes_the_client() -> None:
    request = as_older_django(
        asgi_request([(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7"), (b"x_forwarded_for", b"198.51.100.9")])
    )
    rules = AddressRules(trusted_proxies=["10.0.0.0/24"])

    assert request.META["HTTP_X_FORWARDED_FOR"] == "6.6.6.6, 203.0.113.7,198.51.100.9"
    forwarded = headers.header(request, "HTTP_X_FORWARDED_FOR")
    assert rules.client(request.META["REMOTE_ADDR"], forwarded) == v4("203.0.113.7")


@pytest.mark.usefixtures("older_django")
def test_a_request_without_a_scope_is_read_from_meta() -> None:
    request = RequestFactory().get("/", headers={"X-Forwarded-For": "203.0.113.7"})

    assert headers.header(request, "HTTP_X_FORWARDED_FOR") == "203.0.113.7"


@pytest.mark.parametrize(
    "name", [b"content-length", b"content-type", b"x-forwarded-for", b"x-real-ip", b"user-agent", b"dpop"]
)
def test_a_raw_header_name_is_filed_under_the_meta_key_django_uses(name: bytes) -> None:
    request = asgi_request([(name, b"7")])

    assert request.META[headers.meta_key_of(name)] == "7"


# Pinned edges of the normalisation, the lookups and the messages ----------------------------------


def test_the_first_ipv4_compatible_address_is_ipv4() -> None:
    assert parse_ip("::1.0.0.0") == v4("1.0.0.0")
    assert parse_ip("::0.255.255.255") == IPv6Address("::0.255.255.255")
    assert parse_networks(("::1.0.0.0/120",)) == (IPv4Network("1.0.0.0/24"),)


def test_an_address_just_outside_a_nat64_prefix_stays_ipv6() -> None:
    assert parse_ip("64:ff9b::1:c000:207") == IPv6Address("64:ff9b::1:c000:207")
    assert parse_ip("64:ff9b::c000:207") == v4("192.0.2.7")


def test_an_entry_that_can_never_match_is_named_with_the_fix() -> None:
    assert network_problems(["::/96"]) == [
        "'::/96' covers both IPv4-compatible addresses (::a.b.c.d, compared as IPv4) and ::/104 (::, ::1): "
        "write the IPv4 network and the IPv6 addresses as separate entries"
    ]
    assert network_problems(["64:ff9b:1:0:ff00::/80"]) == [
        "'64:ff9b:1:0:ff00::/80' lies in the NAT64 prefix 64:ff9b:1::/48 but sets bits 64-71, which are zero in "
        "every IPv4-embedded address (RFC 6052 section 2.2), so it can never match: write the IPv4 network it "
        "should cover"
    ]


def test_the_error_of_bad_settings_names_every_bad_entry() -> None:
    with pytest.raises(ValueError, match="'a' is not") as raised:
        AddressRules(trusted_proxies=["a", "b"])
    assert str(raised.value) == "; ".join(network_problems(["a", "b"]))
    with pytest.raises(ValueError, match="'a' is not") as raised:
        AddressRules(nat64_prefixes=["a", "b"])
    assert str(raised.value) == "; ".join(nat64_problems(["a", "b"]))


def test_lookups_in_a_group_of_blocks_of_different_lengths() -> None:
    """A /2 makes the lookup group by the first 2 bits: /8 and /24 blocks share a group."""
    networks = parse_networks(("64.0.0.0/2", "10.0.0.0/24", "20.0.0.0/8"))

    assert find_network(v4("20.0.0.5"), networks) == IPv4Network("20.0.0.0/8")
    assert find_network(v4("10.0.0.5"), networks) == IPv4Network("10.0.0.0/24")
    assert find_network(v4("9.0.0.1"), networks) is None
    assert find_network(v4("10.0.1.0"), networks) is None
    assert find_network(v4("10.0.1.1"), networks) is None
    assert not networks.contains(v4("10.0.1.0"))
    assert not networks.contains(v4("21.0.0.0"))
    assert networks.contains(v4("20.255.255.255"))


def test_a_network_starting_at_the_last_address_of_another_is_inside_it() -> None:
    networks = parse_networks(("10.0.0.1/32", "10.0.0.0/31"))

    assert find_network(v4("10.0.0.1"), networks) == IPv4Network("10.0.0.0/31")
