"""Fuzz target: IP address and User-Agent normalisation, and the matching built on them.

Exercises ``restricted_sessions.addresses`` (parse_ip, first_address, client_behind_proxies,
network_identity), ``restricted_sessions.useragents`` (normalise, bounded) and
``binding.Policy.match_ip`` / ``match_ua`` on arbitrary input, and checks invariants that
must hold for every input; any exception is a failure.

Two entry points share the invariants:

- ``test_one_input(data: bytes)``, a libFuzzer-style target (atheris): the bytes are split into
  fields and decoded as latin-1, which is what WSGI and ASGI make of header bytes.
- ``fuzz_structured``, a hypothesis test whose ``.hypothesis.fuzz_one_input`` takes bytes too,
  but generates address-shaped and User-Agent-shaped values, so it reaches deeper.

Run it coverage-guided with atheris (``pip install atheris``; wheels exist for Linux)::

    python tests/fuzz/fuzz_normalisation.py -max_total_time=300 [corpus_dir]

Without atheris the same command drives both entry points with random bytes for
``--seconds`` (default 60). ``tests/test_fuzz.py`` runs it for a fixed budget in CI.
No Django settings are needed: everything here is pure.
"""

from __future__ import annotations

import ipaddress
import os
import random
import sys
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:  # pragma: no cover - atheris is optional
    import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]

    with atheris.instrument_imports(include=["restricted_sessions"]):
        from restricted_sessions import addresses, binding, useragents
except ImportError:
    atheris = None
    from restricted_sessions import addresses, binding, useragents

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DIGEST_PREFIX = "$sha256$"
# bounded(): at most 512 characters kept as they are, else the prefix and a SHA-256 hex digest.
MAX_BOUNDED = 512 + len(DIGEST_PREFIX) + 64
TRUSTED = addresses.parse_networks(("10.9.0.0/16", "2001:db8:ffff::/48", "127.0.0.1"))
SECRETS = ("fuzz-secret", "fuzz-old-secret")


# The oracle, with ipaddress only -----------------------------------------------------------


def oracle_parse(text: str) -> IPAddress | None:
    """What parse_ip must return: ipaddress's reading, an embedded IPv4 client as IPv4, long values unknown."""
    if len(text) > addresses.MAX_ADDRESS_LENGTH:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return carried_ipv4(address)


def oracle_entry(text: str) -> IPAddress | None:
    """One comma-separated entry: whitespace around it allowed, up to MAX_ENTRY_LENGTH in all."""
    return None if len(text) > addresses.MAX_ENTRY_LENGTH else oracle_parse(text.strip())


def carried_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 client an IPv6 address carries (mapped, SIIT, compatible, NAT64), read from its bytes."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    octets = address.packed
    well_known = bytes.fromhex("0064ff9b") + bytes(8)
    if octets[:12] in (bytes(10) + b"\xff\xff", bytes(8) + b"\xff\xff\0\0", well_known):
        return ipaddress.IPv4Address(octets[12:])
    if octets[:12] == bytes(12) and octets[12] != 0:
        return ipaddress.IPv4Address(octets[12:])
    if octets[:6] == bytes.fromhex("0064ff9b0001") and octets[8] == 0:  # RFC 6052 2.2 for a /48
        return ipaddress.IPv4Address(octets[6:8] + octets[9:11])
    return address


def same_prefix(a: IPAddress, b: IPAddress, ipv4_length: int, ipv6_length: int) -> bool:
    if a.version != b.version:
        return False
    length = ipv4_length if a.version == 4 else ipv6_length
    bits = a.max_prefixlen
    return format(int(a), f"0{bits}b")[:length] == format(int(b), f"0{bits}b")[:length]


def oracle_walk(remote: str | None, forwarded: str | None) -> IPAddress | None:
    hops = [remote, *reversed(forwarded.split(",") if forwarded else [])]
    client = None
    for count, hop in enumerate(hops, 1):
        client = None if hop is None else oracle_entry(hop)
        if client is None or not any(client.version == n.version and client in n for n in TRUSTED):
            return client
        if count > addresses.DEFAULT_MAX_PROXY_HOPS:
            return None
    return client


# The invariants ----------------------------------------------------------------------------


def check_address(text: str, ipv4_length: int, ipv6_length: int) -> IPAddress | None:
    address = addresses.parse_ip(text)
    assert address == oracle_parse(text), (text, address)
    assert addresses.first_address(text) == oracle_entry(text.split(",", 1)[0])
    if address is None:
        return None
    assert isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    assert not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None)
    # What the raw store keeps (str) reads back as the same address.
    assert addresses.parse_ip(str(address)) == address, (text, str(address))
    identity = addresses.network_identity(address, ipv4_length, ipv6_length)
    length = ipv4_length if address.version == 4 else ipv6_length
    host_bits = address.max_prefixlen - length
    if host_bits > 0:
        sibling = type(address)(int(address) ^ 1)
        assert addresses.network_identity(sibling, ipv4_length, ipv6_length) == identity
    if length > 0:
        flipped_bit = 1 << (address.max_prefixlen - length)
        stranger = type(address)(int(address) ^ flipped_bit)
        assert addresses.network_identity(stranger, ipv4_length, ipv6_length) != identity
    for hashed in (False, True):
        policy = binding.Policy(ipv4_length=ipv4_length, ipv6_length=ipv6_length, hashed=hashed, secrets=SECRETS)
        stored = policy.ip_token(address)
        assert ip_matches(policy, stored, address), (text, stored)
        assert not ip_matches(policy, stored, None)
        assert not ip_matches(policy, None, address)
    return address


def ip_matches(policy: binding.Policy, stored: object, address: IPAddress | None) -> bool:
    return policy.match_ip(stored, address) is binding.Match.YES


def ua_matches(policy: binding.Policy, stored: object, user_agent: str | None) -> bool:
    return policy.match_ua(stored, user_agent) is binding.Match.YES


def legacy_ua(stored: str) -> object:
    """A User-Agent stored raw by django-restricted-sessions 0.4, as the library reads it."""
    return binding.Policy().read({binding.UA_SESSION_KEY: stored}.get).ua


def check_pair(a: IPAddress | None, b: IPAddress | None, ipv4_length: int, ipv6_length: int) -> None:
    """Two addresses match exactly when they share the configured prefix."""
    for hashed in (False, True):
        policy = binding.Policy(ipv4_length=ipv4_length, ipv6_length=ipv6_length, hashed=hashed, secrets=SECRETS)
        matches = ip_matches(policy, policy.ip_token(a), b)
        expected = a is not None and b is not None and same_prefix(a, b, ipv4_length, ipv6_length)
        assert matches == expected, (a, b, ipv4_length, ipv6_length, hashed)


def check_forwarded(remote: str | None, forwarded: str | None) -> None:
    client = addresses.client_behind_proxies(remote, forwarded, TRUSTED)
    assert client == oracle_walk(remote, forwarded), (remote, forwarded, client)
    assert addresses.client_behind_proxies(remote, forwarded, ()) == (None if remote is None else oracle_entry(remote))


def check_user_agent(user_agent: str) -> None:
    assert useragents.normalise(user_agent, useragents.EXACT) == user_agent
    tolerant = useragents.normalise(user_agent, useragents.IGNORE_VERSIONS)
    assert useragents.normalise(tolerant, useragents.IGNORE_VERSIONS) == tolerant, user_agent
    stored = useragents.bounded(user_agent)
    assert len(stored) <= MAX_BOUNDED
    assert useragents.bounded(user_agent) == stored
    if len(user_agent) <= 512 and not user_agent.startswith(DIGEST_PREFIX):
        assert stored == user_agent
    else:
        assert stored.startswith(DIGEST_PREFIX)
        assert stored != user_agent
    for mode in useragents.MATCH_MODES:
        for hashed in (False, True):
            policy = binding.Policy(ua_match=mode, hashed=hashed, secrets=SECRETS)
            value = policy.ua_token(user_agent)
            assert len(value) <= MAX_BOUNDED
            assert ua_matches(policy, value, user_agent), (user_agent, mode, hashed)
            # Bound to no User-Agent: kept by requests without one, and by them only (fault 10).
            assert ua_matches(policy, value, "") == (user_agent == ""), (user_agent, mode, hashed)
            assert ua_matches(policy, value, None) == (user_agent == ""), (user_agent, mode, hashed)
            assert not ua_matches(policy, None, user_agent)


def check_user_agent_pair(a: str, b: str) -> None:
    """EXACT: only the very same User-Agent matches; IGNORE_VERSIONS: the same one without versions."""
    if a != b:
        assert useragents.bounded(a) != useragents.bounded(b), (a, b)
    for hashed in (False, True):
        exact = binding.Policy(hashed=hashed, secrets=SECRETS)
        assert ua_matches(exact, exact.ua_token(a), b) == (a == b), (a, b, hashed)
        tolerant = binding.Policy(ua_match=useragents.IGNORE_VERSIONS, hashed=hashed, secrets=SECRETS)
        same = useragents.normalise(a, useragents.IGNORE_VERSIONS) == useragents.normalise(
            b, useragents.IGNORE_VERSIONS
        )
        assert ua_matches(tolerant, tolerant.ua_token(a), b) == same, (a, b, hashed)
    # A value stored raw by django-restricted-sessions 0.4 keeps validating, and only for itself.
    if a and not a.startswith(DIGEST_PREFIX):
        assert ua_matches(binding.Policy(), legacy_ua(a), b) == (a == b), (a, b)


def check_all(
    remote: str | None, forwarded: str | None, user_agent: str, other_agent: str, ipv4_length: int, ipv6_length: int
) -> None:
    a = check_address(remote, ipv4_length, ipv6_length) if remote is not None else None
    for entry in (forwarded or "").split(",")[:4]:
        check_address(entry.strip(), ipv4_length, ipv6_length)
    b = addresses.first_address(forwarded)
    check_pair(a, b, ipv4_length, ipv6_length)
    check_forwarded(remote, forwarded)
    check_user_agent(user_agent)
    check_user_agent_pair(user_agent, other_agent)


# Entry point 1: raw bytes (atheris) ---------------------------------------------------------


def test_one_input(data: bytes) -> None:
    """Bytes: [IPv4 length][IPv6 length] remote \\n forwarded \\n user agent \\n other user agent."""
    if len(data) < 2:
        return
    ipv4_length, ipv6_length = data[0] % 33, data[1] % 129
    fields = data[2:].split(b"\n", 3) + [b""] * 3
    remote, forwarded, user_agent, other_agent = (field.decode("latin-1") for field in fields[:4])
    check_all(remote or None, forwarded or None, user_agent, other_agent, ipv4_length, ipv6_length)
    # Text that did not come from HTTP bytes (lone surrogates) must not break the User-Agent code.
    check_user_agent(data[2:].decode("utf-8", "surrogateescape"))


# Entry point 2: structured values (hypothesis) ----------------------------------------------

latin1 = st.characters(min_codepoint=0, max_codepoint=255)


def _mutated(text: str, index: int, char: str) -> str:
    index %= len(text) + 1
    return text[:index] + char + text[index + 1 :]


address_text = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda address: address.exploded),
    st.ip_addresses(v=4).map(lambda address: f"::ffff:{address}"),
    st.ip_addresses(v=4).map(lambda address: f"64:ff9b::{address}"),
    st.ip_addresses(v=4).map(lambda address: f"::{address}"),
    st.builds(
        lambda address, zone: f"{address}%{zone}", st.ip_addresses(v=6), st.text(latin1, min_size=1, max_size=70)
    ),
    st.builds(_mutated, st.ip_addresses().map(str), st.integers(0, 45), st.sampled_from(":.%[]0aF9 ,\x00\xa0\x85/")),
    st.from_regex(r"[0-9a-fA-F:.%]{0,70}", fullmatch=True),
    st.text(latin1, max_size=80),
)
forwarded_text = st.builds(
    lambda parts, separator: separator.join(parts),
    st.lists(st.one_of(address_text, st.sampled_from(["10.9.0.1", "127.0.0.1", "2001:db8:ffff::9"])), max_size=5),
    st.sampled_from([",", ", ", " , "]),
)
user_agent_text = st.one_of(
    st.text(latin1, max_size=300),
    st.text(max_size=100),  # any code point, lone surrogates included
    st.builds(lambda chunk, n: chunk * n, st.text(latin1, min_size=1, max_size=30), st.integers(1, 4_000)),
    st.builds(
        lambda product, version, os_name, os_version: f"{product}/{version} ({os_name} {os_version})",
        st.sampled_from(["Mozilla", "Chrome", "Firefox", "rv:", "Version"]),
        st.from_regex(r"\d[0-9A-Za-z._+-]{0,8}", fullmatch=True),
        st.sampled_from(["Android", "Windows NT", "Mac OS X", "iPhone OS", "CrOS x86_64", "Linux", "OS"]),
        st.from_regex(r"\d[\d._]{0,6}", fullmatch=True),
    ),
    st.builds(lambda text: DIGEST_PREFIX + text, st.text(latin1, max_size=80)),
)


@settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    remote=st.one_of(st.none(), address_text),
    forwarded=st.one_of(st.none(), forwarded_text),
    user_agent=user_agent_text,
    other_agent=user_agent_text,
    ipv4_length=st.integers(0, 32),
    ipv6_length=st.integers(0, 128),
)
def fuzz_structured(
    remote: str | None, forwarded: str | None, user_agent: str, other_agent: str, ipv4_length: int, ipv6_length: int
) -> None:
    check_all(remote, forwarded, user_agent, other_agent, ipv4_length, ipv6_length)
    # Two versions of one browser differ only in versions: the tolerant mode sees one client,
    # unless the User-Agent is too long to store as it is (then it is opaque, compared whole).
    versioned, updated = user_agent + "/1.2", user_agent + "/3.4"
    tolerant = binding.Policy(ua_match=useragents.IGNORE_VERSIONS, secrets=SECRETS)
    opaque = len(versioned) > useragents.MAX_STORED_LENGTH
    assert ua_matches(tolerant, tolerant.ua_token(versioned), updated) is not opaque, user_agent


# Driving it --------------------------------------------------------------------------------

SEEDS = [
    b"\x20\x40192.0.2.1\n10.9.0.1, 198.51.100.7\nMozilla/5.0 Chrome/131.0.0.0\nMozilla/5.0 Chrome/132.0.0.0",
    b"\x18\x30::ffff:10.0.0.1\n::1,::2\n$sha256$abc\n\xff\xfe",
    b"\x00\x00fe80::1%eth0\n\n\n",
]


def drive(target: Callable[[bytes], object], *, seconds: float, max_inputs: int, seed: int = 0) -> int:
    """Call ``target`` with the seeds, then seeded random buffers, until a budget runs out.

    Returns how many inputs ran. Any exception from the target propagates.
    """
    generator = random.Random(seed)
    deadline = time.monotonic() + seconds
    count = 0
    for buffer in SEEDS:
        target(buffer)
        count += 1
    while count < max_inputs and time.monotonic() < deadline:
        size = generator.choice((8, 32, 128, 512, 2048))
        target(generator.randbytes(generator.randrange(size)))
        count += 1
    return count


def main(argv: list[str]) -> None:  # pragma: no cover - a command, not a test
    if atheris is not None:
        atheris.Setup(argv, test_one_input)
        atheris.Fuzz()
        return
    seconds = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else 60.0
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"atheris is not installed: driving with random bytes for {seconds:g} s, seed {seed}")
    raw = drive(test_one_input, seconds=seconds / 2, max_inputs=sys.maxsize, seed=seed)
    fuzz_one_input = fuzz_structured.hypothesis.fuzz_one_input  # type: ignore[attr-defined]
    structured = drive(fuzz_one_input, seconds=seconds / 2, max_inputs=sys.maxsize, seed=seed)
    print(f"{raw} raw inputs and {structured} structured inputs, no failure")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv)
