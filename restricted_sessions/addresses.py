"""Client addresses: parsing, the client behind trusted proxies, and network identity.

Every address and every configured network goes through one normalisation
(:class:`~restricted_sessions.networks.Embeddings`): an IPv6 address that carries an IPv4 client
(IPv4-mapped, SIIT, IPv4-compatible, Teredo, or inside a NAT64 prefix) is that IPv4 address. Single
addresses are parsed with the standard library's ``ipaddress`` (cached per distinct string);
configured networks are looked up through :class:`~restricted_sessions.networks.NetworkSet`.

:class:`AddressRules` holds the address settings prepared once; the module functions are the same
rules with the default NAT64 prefixes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from ipaddress import IPv6Address, ip_address, ip_network

from restricted_sessions.networks import (
    DEFAULT_NAT64_PREFIXES,
    Embeddings,
    IPAddress,
    IPNetwork,
    NetworkSet,
    embeddings,
    normalised_networks,
)

Networks = tuple[IPNetwork, ...]

# The longest textual IP address (IPv6 with an embedded IPv4 and a zone id) is shorter than this;
# longer values are rejected before the cache, so junk cannot fill it with large strings.
MAX_ADDRESS_LENGTH = 64
# An entry of a forwarding header longer than this (an address and generous whitespace) is unknown,
# so that stripping it never costs more than this.
MAX_ENTRY_LENGTH = 256
# Distinct address strings remembered per rules object.
PARSE_CACHE_SIZE = 4096

#: RESTRICTEDSESSIONS_MAX_PROXY_HOPS by default. Real chains have one to four trusted proxies (CDN
#: edge, CDN shield, load balancer, ingress); each hop costs one lookup, so the bound keeps a
#: forwarding header of any length cheap, and a chain longer than this is unknown (fail closed).
DEFAULT_MAX_PROXY_HOPS = 10


def max_proxy_hops_problems(value: object) -> list[str]:
    """What is wrong with a RESTRICTEDSESSIONS_MAX_PROXY_HOPS value (a whole number, at least 1). Never raises."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return [f"must be a whole number of at least 1 (10 by default), not {value!r}"]
    return []


class AddressRules:
    """The address settings, prepared once: normalisation, trusted proxies, exempt networks, hop limit.

    ``trusted_proxies`` and ``exempt_networks``: strings, IP addresses or CIDR networks (host bits
    zero), as in RESTRICTEDSESSIONS_TRUSTED_PROXIES and RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS;
    ``nat64_prefixes``: RESTRICTEDSESSIONS_NAT64_PREFIXES; ``max_proxy_hops``: at least 1. Raises
    ``ValueError`` naming every bad entry (:func:`~restricted_sessions.networks.network_problems`
    gives them one by one, for a system check).
    """

    __slots__ = ("_parse", "embeddings", "exempt", "max_proxy_hops", "trusted")

    def __init__(
        self,
        *,
        trusted_proxies: Iterable[str] = (),
        exempt_networks: Iterable[str] = (),
        nat64_prefixes: Iterable[str] = DEFAULT_NAT64_PREFIXES,
        max_proxy_hops: int = DEFAULT_MAX_PROXY_HOPS,
    ) -> None:
        problems = max_proxy_hops_problems(max_proxy_hops)
        if problems:
            raise ValueError(f"max_proxy_hops {problems[0]}")
        self.embeddings = embeddings(nat64_prefixes)
        self.trusted = normalised_networks(trusted_proxies, self.embeddings)
        self.exempt = normalised_networks(exempt_networks, self.embeddings)
        self.max_proxy_hops = max_proxy_hops
        self._parse: Callable[[str], IPAddress | None] = lru_cache(maxsize=PARSE_CACHE_SIZE)(self._read)
        # Build the lookups now rather than on the first request.
        self.trusted.prepare(find=False)
        self.exempt.prepare(contains=False)

    def _read(self, value: str) -> IPAddress | None:
        try:
            address = ip_address(value)
        except ValueError:
            return None
        return self.embeddings.address(address) if isinstance(address, IPv6Address) else address

    def parse(self, value: str) -> IPAddress | None:
        """One address, normalised; anything else (a port, brackets, junk, ``""``) is ``None``: unknown."""
        if len(value) > MAX_ADDRESS_LENGTH:
            return None
        return self._parse(value)

    def parse_entry(self, value: str, start: int = 0, end: int | None = None) -> IPAddress | None:
        """``value[start:end]`` parsed with the whitespace around it, at a cost bounded whatever its length."""
        end = len(value) if end is None else end
        if end - start > MAX_ENTRY_LENGTH:
            return None
        return self.parse(value[start:end].strip())

    def first_address(self, value: str | None) -> IPAddress | None:
        """The first entry of a value that may hold several, comma-separated (``None``: unknown)."""
        if value is None:
            return None
        end = value.find(",")
        return self.parse_entry(value, 0, len(value) if end < 0 else end)

    def client(self, remote_addr: str | None, forwarded_for: str | None) -> IPAddress | None:
        """The client address, walking from the peer leftwards through trusted proxies only.

        ``remote_addr``: the peer (``REMOTE_ADDR``); ``forwarded_for``: the header the proxies append
        to, comma-separated. Each trusted proxy appends the address it saw, so the right-most entry
        that is not a trusted proxy is the client; entries further left were written by the client
        and are never read. ``None`` (unknown, so a bound session fails closed) for a malformed entry
        on the walk, and for more than ``max_proxy_hops`` trusted hops. At most that many entries are
        read, each found from the right, so a header of any length costs the same.
        """
        return _walk(self.parse_entry, self.trusted, self.max_proxy_hops, remote_addr, forwarded_for)

    def exempt_network(self, address: IPAddress) -> IPNetwork | None:
        """The exempt network that holds an address: the widest one when several do."""
        return self.exempt.find(self.embeddings.address(address))

    def identity(self, address: IPAddress, ipv4_length: int, ipv6_length: int) -> str:
        """What two addresses must share to count as the same client (see :func:`network_identity`)."""
        return _identity(self.embeddings.address(address), ipv4_length, ipv6_length, self.exempt)


def _walk(
    parse: Callable[[str, int, int | None], IPAddress | None],
    trusted: NetworkSet,
    max_proxy_hops: int,
    remote_addr: str | None,
    forwarded_for: str | None,
) -> IPAddress | None:
    hop = parse(remote_addr, 0, None) if remote_addr is not None else None
    if hop is None or not trusted.contains(hop):
        return hop
    if not forwarded_for:
        return hop
    end = len(forwarded_for)
    hops = 1  # the peer
    while True:
        start = forwarded_for.rfind(",", 0, end) + 1
        hop = parse(forwarded_for, start, end)
        if hop is None or not trusted.contains(hop):
            return hop
        hops += 1
        if hops > max_proxy_hops:
            return None
        if start == 0:
            # Every hop is a trusted proxy: the left-most one is the closest to the client we know.
            return hop
        end = start - 1


def _identity(address: IPAddress, ipv4_length: int, ipv6_length: int, exempt: NetworkSet) -> str:
    network = exempt.find(address) if exempt else None
    if network is not None:
        return f"net:{network}"
    if address.version == 4:
        return f"4:{int(address) >> (32 - ipv4_length)}/{ipv4_length}"
    return f"6:{int(address) >> (128 - ipv6_length)}/{ipv6_length}"


# The same rules with the default NAT64 prefixes, as module functions ------------------------

_DEFAULT = AddressRules()


def parse_ip(value: str) -> IPAddress | None:
    """One address, normalised (an IPv6 address that carries an IPv4 client is that IPv4 address).

    Anything that is not a plain IP address (a port, brackets, an out-of-range octet, an empty
    string) is ``None``: unknown.
    """
    return _DEFAULT.parse(value)


def first_address(value: str | None) -> IPAddress | None:
    """The first entry of an address value that may hold several, comma-separated."""
    return _DEFAULT.first_address(value)


@lru_cache(maxsize=32)
def parse_networks(values: tuple[str, ...], nat64_prefixes: tuple[str, ...] = DEFAULT_NAT64_PREFIXES) -> NetworkSet:
    """IPs and CIDR networks (host bits zero), normalised; raises ``ValueError`` naming every bad entry."""
    return normalised_networks(values, embeddings(nat64_prefixes))


@lru_cache(maxsize=32)
def _prepared(networks: Networks) -> NetworkSet:
    return networks if isinstance(networks, NetworkSet) else NetworkSet(networks)


def _as_set(networks: Iterable[IPNetwork]) -> NetworkSet:
    if isinstance(networks, NetworkSet):
        return networks
    return _prepared(tuple(networks))


def find_network(address: IPAddress, networks: Iterable[IPNetwork]) -> IPNetwork | None:
    """The widest of ``networks`` that holds ``address`` (normalised networks, from :func:`parse_networks`)."""
    return _as_set(networks).find(_DEFAULT.embeddings.address(address))


def client_behind_proxies(
    remote_addr: str | None,
    forwarded_for: str | None,
    trusted: Iterable[IPNetwork],
    max_proxy_hops: int = DEFAULT_MAX_PROXY_HOPS,
) -> IPAddress | None:
    """The client behind ``trusted`` proxies (see :meth:`AddressRules.client`)."""
    return _walk(_DEFAULT.parse_entry, _as_set(trusted), max_proxy_hops, remote_addr, forwarded_for)


def network_identity(address: IPAddress, ipv4_length: int, ipv6_length: int, exempt: Iterable[IPNetwork] = ()) -> str:
    """What two addresses must share to count as the same client: ``"net:<network>"`` for an address
    inside an exempt network (the widest one that holds it), else ``"4:<int>/<len>"`` or
    ``"6:<int>/<len>"``, the address's prefix of the configured length as an integer.

    Stored by the hashed store, so these strings never change for an address or network.
    """
    return _identity(_DEFAULT.embeddings.address(address), ipv4_length, ipv6_length, _as_set(exempt))


def masked(address: IPAddress | None) -> str:
    """An address reduced to its /24 (IPv4) or /48 (IPv6) network, for logs."""
    if address is None:
        return "-"
    return str(ip_network((address, 24 if address.version == 4 else 48), strict=False))


__all__ = [
    "DEFAULT_MAX_PROXY_HOPS",
    "DEFAULT_NAT64_PREFIXES",
    "MAX_ADDRESS_LENGTH",
    "AddressRules",
    "Embeddings",
    "IPAddress",
    "IPNetwork",
    "NetworkSet",
    "Networks",
    "client_behind_proxies",
    "find_network",
    "first_address",
    "masked",
    "max_proxy_hops_problems",
    "network_identity",
    "parse_ip",
    "parse_networks",
]
