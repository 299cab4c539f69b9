"""Configured networks: one normalisation for addresses and entries, and a lookup of flat cost.

An IPv6 address that carries an IPv4 client is compared as that IPv4 address, so that no spelling of
an address compares differently from another (:class:`Embeddings`). Configured entries
(``TRUSTED_PROXIES``, ``IP_EXEMPT_NETWORKS``) go through the same normalisation and are held in a
:class:`NetworkSet`, whose lookup costs the same for 1 or 10,000 networks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_interface, ip_network
from typing import Generic, NamedTuple, TypeVar

import netaddr  # type: ignore[import-untyped]

__all__ = [
    "DEFAULT_NAT64_PREFIXES",
    "FIXED_EMBEDDINGS",
    "NAT64_PREFIX_LENGTHS",
    "TEREDO",
    "Embeddings",
    "EntryProblem",
    "NetworkSet",
    "embeddings",
    "nat64_problems",
    "network_entry_problems",
    "network_problems",
    "normalised_networks",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

#: The NAT64 prefixes of RESTRICTEDSESSIONS_NAT64_PREFIXES by default: the well-known prefix
#: (RFC 6052 section 2.1) and the local-use prefix (RFC 8215), read as a /48.
DEFAULT_NAT64_PREFIXES: tuple[str, ...] = ("64:ff9b::/96", "64:ff9b:1::/48")
#: The prefix lengths RFC 6052 section 2.2 defines an embedding for.
NAT64_PREFIX_LENGTHS = (32, 40, 48, 56, 64, 96)

# Embeddings that are fixed by the address architecture, always applied:
# IPv4-mapped (RFC 4291 section 2.5.5.2), SIIT IPv4-translated ``::ffff:0:a.b.c.d`` (RFC 7915, the
# form of RFC 2765) and IPv4-compatible ``::a.b.c.d`` (RFC 4291 section 2.5.5.1); and Teredo (below).
FIXED_EMBEDDINGS = (IPv6Network("::ffff:0:0/96"), IPv6Network("::ffff:0:0:0/96"), IPv6Network("::/96"))
# ``::``, ``::1`` and the rest of ::/104 stay IPv6: 0.0.0.0/8 is never an IPv4 source address, so
# ``::a.b.c.d`` with a = 0 is not an IPv4-compatible address.
_NATIVE_COMPATIBLE = 1 << 24
_IPV4_MASK = 0xFFFFFFFF
#: Teredo (RFC 4380 section 4): 2001::/32, then the Teredo server's IPv4 address, flags and port, and
#: in the last 32 bits the client's public IPv4 address with every bit inverted. Every client of one
#: server shares a /64, so a Teredo address is compared as the IPv4 client it carries.
TEREDO = IPv6Network("2001::/32")
_TEREDO_HIGH_BITS = int(TEREDO.network_address) >> 96

T = TypeVar("T")


def _embedded(n: int, length: int) -> int | None:
    """The IPv4 address that the IPv6 address ``n`` carries under a prefix of ``length`` bits.

    RFC 6052 section 2.2: the 32 bits follow the prefix, skipping bits 64-71 (the u-octet, which must
    be zero); the suffix after them is ignored. None when ``n`` holds no valid embedding.
    """
    if length == 96:
        return None if n < _NATIVE_COMPATIBLE else n & _IPV4_MASK
    if (n >> 56) & 0xFF:
        return None
    low_bits = length - 32
    high = (n >> 64) & ((1 << (64 - length)) - 1)
    return high << low_bits | (n >> (56 - low_bits)) & ((1 << low_bits) - 1)


class Embeddings:
    """Which IPv6 addresses carry an IPv4 client: the fixed forms, Teredo and the given NAT64 prefixes.

    ``nat64_prefixes``: valid prefixes (see :func:`nat64_problems`). A lookup costs one dict probe
    per distinct prefix length (two by default).
    """

    __slots__ = ("_by_length", "prefixes")

    def __init__(self, nat64_prefixes: Iterable[IPv6Network] = ()) -> None:
        self.prefixes: tuple[IPv6Network, ...] = (*FIXED_EMBEDDINGS, *nat64_prefixes)
        by_length: dict[int, dict[int, IPv6Network]] = {}
        for prefix in self.prefixes:
            shift = 128 - prefix.prefixlen
            by_length.setdefault(shift, {})[int(prefix.network_address) >> shift] = prefix
        self._by_length = tuple(sorted(by_length.items()))

    def _prefix(self, n: int, length: int = 128) -> IPv6Network | None:
        """The embedding prefix that holds the IPv6 value ``n`` with ``length`` bits fixed."""
        for shift, prefixes in self._by_length:
            if length >= 128 - shift:
                prefix = prefixes.get(n >> shift)
                if prefix is not None:
                    return prefix
        return None

    def address(self, address: IPAddress) -> IPAddress:
        """The address itself, or the IPv4 address it carries."""
        if address.version == 4:
            return address
        n = int(address)
        if n >> 96 == _TEREDO_HIGH_BITS:
            return IPv4Address(n & _IPV4_MASK ^ _IPV4_MASK)
        prefix = self._prefix(n)
        if prefix is None:
            return address
        embedded = _embedded(n, prefix.prefixlen)
        # A non-zero u-octet is not an embedding (RFC 6052 section 2.2): the address stays IPv6.
        return address if embedded is None else IPv4Address(embedded)

    def network(self, network: IPNetwork) -> IPNetwork | str:
        """The network itself, the IPv4 network it covers, or why it can never be written so.

        An IPv6 network wider than an embedding prefix keeps its IPv6 meaning only: the IPv4
        clients inside it are IPv4 addresses, which an IPv6 network never holds.
        """
        if network.version == 4:
            return network
        n, length = int(network.network_address), network.prefixlen
        if n >> 96 == _TEREDO_HIGH_BITS and length >= 32:
            if length < 96:
                return (
                    f"lies in Teredo ({TEREDO}), whose addresses are compared as the IPv4 client in their last "
                    "32 bits (RFC 4380), so it can never match: write the IPv4 network it should cover"
                )
            # Inverting every bit keeps a prefix a prefix: the network of the inverted client bits.
            ipv4_length = length - 96
            first = (n & _IPV4_MASK ^ _IPV4_MASK) >> (32 - ipv4_length) << (32 - ipv4_length)
            return IPv4Network((first, ipv4_length))
        prefix = self._prefix(n, length)
        if prefix is None:
            return network
        if prefix.prefixlen == 96:
            if n >= _NATIVE_COMPATIBLE:
                return IPv4Network((n & _IPV4_MASK, length - 96))
            if length >= 104:
                return network
            return (
                "covers both IPv4-compatible addresses (::a.b.c.d, compared as IPv4) and ::/104 (::, ::1): "
                "write the IPv4 network and the IPv6 addresses as separate entries"
            )
        embedded = _embedded(n, prefix.prefixlen)
        if embedded is None:
            return (
                f"lies in the NAT64 prefix {prefix} but sets bits 64-71, which are zero in every IPv4-embedded "
                "address (RFC 6052 section 2.2), so it can never match: write the IPv4 network it should cover"
            )
        low_bits = prefix.prefixlen - 32
        ipv4_length = min(length, 64) - prefix.prefixlen + min(max(length - 72, 0), low_bits)
        return IPv4Network((embedded, ipv4_length))


class _Table(Generic[T]):
    """Disjoint CIDR blocks with a value each, grouped by their first ``shortest prefix length`` bits.

    A lookup is one dict probe, then a bisection over the few blocks of that group (in C), so it
    costs about the same for 1 or 10,000 blocks; only blocks of very different lengths (a /0 next
    to many /24s) share a group, and then the bisection is O(log n).
    """

    __slots__ = ("_groups", "_shift")

    def __init__(self, blocks: Iterable[tuple[int, int, T]], bits: int) -> None:
        """``blocks``: (first address, prefix length, value), disjoint; ``bits``: 32 or 128."""
        ordered = sorted(blocks, key=lambda block: block[0])
        self._shift = bits - min((length for _, length, _ in ordered), default=bits)
        grouped: dict[int, tuple[list[int], list[int], list[T]]] = {}
        for first, length, value in ordered:
            firsts, lasts, values = grouped.setdefault(first >> self._shift, ([], [], []))
            firsts.append(first)
            lasts.append(first + (1 << (bits - length)) - 1)
            values.append(value)
        self._groups = grouped

    def find(self, n: int) -> T | None:
        group = self._groups.get(n >> self._shift)
        if group is None:
            return None
        firsts, lasts, values = group
        index = bisect_right(firsts, n) - 1
        if index >= 0 and n <= lasts[index]:
            return values[index]
        return None


def _outermost(networks: Iterable[IPNetwork]) -> list[IPNetwork]:
    """The networks not inside another one (CIDR networks either nest or are disjoint)."""
    outer: list[IPNetwork] = []
    # Widest first among those that start at the same address.
    for network in sorted(set(networks), key=lambda net: (int(net.network_address), net.prefixlen)):
        if not outer or int(network.network_address) > int(outer[-1].broadcast_address):
            outer.append(network)
    return outer


class NetworkSet(tuple[IPNetwork, ...]):
    """Normalised configured networks, in configured order, looked up at a cost flat in their number.

    A tuple of ``ipaddress`` networks (so it is compared and iterated as one). :meth:`contains`
    looks in the union that ``netaddr.IPSet`` computes (its CIDR blocks); :meth:`find` in the
    outermost networks; both through a :class:`_Table`, so a lookup costs about the same for 1 or
    10,000 networks (``IPSet``'s own membership test walks up to 32 or 128 supernets in Python:
    tens of microseconds).
    """

    @cached_property
    def _union(self) -> dict[int, _Table[bool]]:
        tables: dict[int, _Table[bool]] = {}
        for version, bits in ((4, 32), (6, 128)):
            members = netaddr.IPSet(str(network) for network in self if network.version == version)
            tables[version] = _Table(((block.first, block.prefixlen, True) for block in members.iter_cidrs()), bits)
        return tables

    @cached_property
    def _outer(self) -> dict[int, _Table[IPNetwork]]:
        return {
            version: _Table(
                (
                    (int(net.network_address), net.prefixlen, net)
                    for net in _outermost(network for network in self if network.version == version)
                ),
                bits,
            )
            for version, bits in ((4, 32), (6, 128))
        }

    def prepare(self, *, contains: bool = True, find: bool = True) -> NetworkSet:
        """Build the lookups of :meth:`contains` and :meth:`find` now, not on their first use."""
        if contains:
            _ = self._union
        if find:
            _ = self._outer
        return self

    def contains(self, address: IPAddress) -> bool:
        """True when a (normalised) address is inside one of the networks."""
        return self._union[address.version].find(int(address)) is not None

    def find(self, address: IPAddress) -> IPNetwork | None:
        """The widest network that holds a (normalised) address, whichever order they were listed in."""
        return self._outer[address.version].find(int(address))


class EntryProblem(NamedTuple):
    """What is wrong with one entry (or the whole setting), and the fix for that entry if known."""

    #: One sentence naming the entry.
    problem: str
    #: The fix for this entry (``Write '10.0.0.0/8' ...``), or None: the setting's usual advice.
    fix: str | None = None


def _network_entry(value: object, embeddings: Embeddings) -> IPNetwork | EntryProblem:
    """A configured entry, normalised, or the problem with it (one sentence naming the fix)."""
    if not isinstance(value, str):
        return EntryProblem(f"{value!r} is not a string: write addresses and networks as strings, e.g. '10.0.0.0/8'")
    try:
        network = ip_network(value, strict=False)
    except ValueError:
        return EntryProblem(
            f"{value!r} is not an IP address or network: write e.g. '192.0.2.1', '10.0.0.0/8' or '2001:db8::/32'"
        )
    normalised = embeddings.network(network)
    if isinstance(normalised, str):
        return EntryProblem(f"{value!r} {normalised}")
    try:
        ip_network(value)
    except ValueError:
        # Parsed leniently but not strictly: bits set after the prefix length, as NAT64_PREFIXES
        # refuses too. "192.0.2.10/24" copied from an interface would cover the whole /24.
        address = embeddings.address(ip_interface(value).ip)
        return EntryProblem(
            f"{value!r} has host bits set, which ipaddress.ip_network(strict=True) refuses: it would cover "
            f"all of {normalised}",
            f"Write {str(normalised)!r} if you mean that network, or {str(address)!r} for the one address.",
        )
    return normalised


def _entries(values: object) -> list[object] | None:
    return list(values) if isinstance(values, list | tuple) else None


def network_entry_problems(values: object, nat64_prefixes: object = DEFAULT_NAT64_PREFIXES) -> list[EntryProblem]:
    """What is wrong with a setting of IP addresses and networks: one problem, with its fix, per bad entry.

    ``values``: the setting (a list or tuple of strings); ``nat64_prefixes``: the NAT64 prefixes
    setting (its invalid entries are ignored here; :func:`nat64_problems` reports them). An entry
    that can never match a client, or a network with host bits set, is a problem. Never raises.
    """
    entries = _entries(values)
    if entries is None:
        return [EntryProblem(f"must be a list of IP addresses or networks (strings), not {values!r}")]
    embeddings = Embeddings(_valid_nat64_prefixes(nat64_prefixes)[0])
    return [
        problem
        for problem in (_network_entry(value, embeddings) for value in entries)
        if isinstance(problem, EntryProblem)
    ]


def network_problems(values: object, nat64_prefixes: object = DEFAULT_NAT64_PREFIXES) -> list[str]:
    """What is wrong with a setting of IP addresses and networks: one message per bad entry.

    As :func:`network_entry_problems`, the messages only. Never raises.
    """
    return [problem.problem for problem in network_entry_problems(values, nat64_prefixes)]


def normalised_networks(values: Iterable[str], embeddings: Embeddings) -> NetworkSet:
    """The entries of a setting, normalised; raises ``ValueError`` naming every bad entry."""
    normalised = [_network_entry(value, embeddings) for value in values]
    problems = [entry.problem for entry in normalised if isinstance(entry, EntryProblem)]
    if problems:
        raise ValueError("; ".join(problems))
    return NetworkSet(network for network in normalised if not isinstance(network, EntryProblem))


def _nat64_prefix(value: object, valid: list[IPv6Network]) -> IPv6Network | str:
    if not isinstance(value, str):
        return f"{value!r} is not a string: write a NAT64 prefix such as '64:ff9b::/96'"
    try:
        prefix = ip_network(value)
    except ValueError:
        return f"{value!r} is not an IPv6 network with its host bits zero: write it as e.g. '2001:db8:64::/96'"
    if not isinstance(prefix, IPv6Network) or prefix.prefixlen not in NAT64_PREFIX_LENGTHS:
        lengths = ", ".join(map(str, NAT64_PREFIX_LENGTHS))
        return f"{value!r} is not an IPv6 prefix of length {lengths} (RFC 6052 section 2.2)"
    for other in (*FIXED_EMBEDDINGS, TEREDO, *valid):
        if prefix != other and prefix.overlaps(other):
            return f"{value!r} overlaps {other}, so an address in both would have two meanings: remove one"
    return prefix


def _valid_nat64_prefixes(values: object) -> tuple[list[IPv6Network], list[str]]:
    entries = _entries(values)
    if entries is None:
        return [], [f"must be a list of IPv6 prefixes (strings), not {values!r}"]
    valid: list[IPv6Network] = []
    problems: list[str] = []
    for value in entries:
        prefix = _nat64_prefix(value, valid)
        if isinstance(prefix, str):
            problems.append(prefix)
        elif prefix not in valid:
            valid.append(prefix)
    return valid, problems


def nat64_problems(values: object) -> list[str]:
    """What is wrong with a RESTRICTEDSESSIONS_NAT64_PREFIXES value: one message per bad entry.

    Each entry is an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 with its host bits zero
    (RFC 6052 section 2.2) that overlaps neither another entry nor the fixed embeddings. Never raises.
    """
    return _valid_nat64_prefixes(values)[1]


def embeddings(nat64_prefixes: Iterable[str] = DEFAULT_NAT64_PREFIXES) -> Embeddings:
    """The normalisation for a NAT64 prefixes setting; raises ``ValueError`` naming every bad entry."""
    valid, problems = _valid_nat64_prefixes(tuple(nat64_prefixes))
    if problems:
        raise ValueError("; ".join(problems))
    return Embeddings(valid)
