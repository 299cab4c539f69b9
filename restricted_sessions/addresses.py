"""Client addresses: parsing, the client behind trusted proxies, and network identity.

Pure functions on strings and ``ipaddress`` objects; parsing is cached per distinct string.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Networks = tuple[IPNetwork, ...]

# The longest textual IP address (IPv6 with an embedded IPv4 and a zone id) is shorter than this;
# longer values are rejected before the cache, so junk cannot fill it with large strings.
MAX_ADDRESS_LENGTH = 64


def parse_ip(value: str) -> IPAddress | None:
    """Parse one address; an IPv4-mapped IPv6 address (``::ffff:0:0/96``) counts as IPv4.

    Anything that is not a plain IP address (a port, brackets, an out-of-range octet, an empty
    string) is ``None``: unknown.
    """
    if len(value) > MAX_ADDRESS_LENGTH:
        return None
    return _parse_ip(value)


@lru_cache(maxsize=4096)
def _parse_ip(value: str) -> IPAddress | None:
    try:
        address = ip_address(value)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=32)
def parse_networks(values: tuple[str, ...]) -> Networks:
    """Parse IPs and CIDR networks (host bits allowed); raises ``ValueError`` on a bad entry."""
    return tuple(ip_network(value, strict=False) for value in values)


def first_address(value: str | None) -> IPAddress | None:
    """The first entry of an address value that may hold several, comma-separated."""
    if value is None:
        return None
    return parse_ip(value.split(",", 1)[0].strip())


def find_network(address: IPAddress, networks: Iterable[IPNetwork]) -> IPNetwork | None:
    for network in networks:
        if address.version == network.version and address in network:
            return network
    return None


def client_behind_proxies(remote_addr: str | None, forwarded_for: str | None, trusted: Networks) -> IPAddress | None:
    """The client address, walking from the peer leftwards through trusted proxies only.

    Each trusted proxy appends the address it saw to the forwarding header, so the right-most
    entry that is not a trusted proxy is the client; entries further left were written by the
    client and are never chosen. A malformed entry on the walk stops it: unknown.
    """
    hop = parse_ip(remote_addr.strip()) if remote_addr is not None else None
    if hop is None or find_network(hop, trusted) is None:
        return hop
    for entry in reversed(forwarded_for.split(",") if forwarded_for else ()):
        hop = parse_ip(entry.strip())
        if hop is None or find_network(hop, trusted) is None:
            return hop
    # Every hop is a trusted proxy: the left-most one is the closest to the client we know.
    return hop


def network_identity(address: IPAddress, ipv4_length: int, ipv6_length: int, exempt: Networks = ()) -> str:
    """What two addresses must share to count as the same client.

    An address inside an exempt network is identified by that network, so moving within it is
    not a change; any other address by its prefix of the configured length.
    """
    network = find_network(address, exempt) if exempt else None
    if network is not None:
        return f"net:{network}"
    if address.version == 4:
        return f"4:{int(address) >> (32 - ipv4_length)}/{ipv4_length}"
    return f"6:{int(address) >> (128 - ipv6_length)}/{ipv6_length}"


def masked(address: IPAddress | None) -> str:
    """An address reduced to its /24 (IPv4) or /48 (IPv6) network, for logs."""
    if address is None:
        return "-"
    return str(ip_network((address, 24 if address.version == 4 else 48), strict=False))
