"""Per-call cost of the address code: network lookups by number of networks, the proxy walk by header
length, parsing, and the header read. Run: ``python -m bench.address_lookups`` (from the checkout root).

Each figure is the best of several ``timeit`` repeats, per call, in microseconds of this process's
CPU time (``time.process_time``), so that other work on a shared machine inflates it less.
"""

from __future__ import annotations

import io
import random
import time
import timeit
from collections.abc import Callable
from functools import partial
from ipaddress import IPv4Network, IPv6Network, ip_address

import django
from django.conf import settings

if not settings.configured:
    settings.configure()
    django.setup()

import netaddr  # type: ignore[import-untyped]
from django.core.handlers.asgi import ASGIRequest
from django.test import RequestFactory

from restricted_sessions import headers
from restricted_sessions.addresses import AddressRules

COUNTS = (1, 1_000, 10_000)


def per_call(function: Callable[..., object], *args: object, number: int = 20_000) -> float:
    """Microseconds per ``function(*args)``: the best of 7 repeats."""
    timings = timeit.repeat(lambda: function(*args), timer=time.process_time, number=number, repeat=7)
    return min(timings) / number * 1e6


def networks(version: int, count: int, rng: random.Random) -> list[str]:
    """Random networks of mixed lengths, as in a cloud provider's published ranges."""
    lengths = (12, 16, 20, 22, 24, 28, 32) if version == 4 else (29, 32, 36, 40, 44, 48, 56, 64, 128)
    bits = 32 if version == 4 else 128
    network = IPv4Network if version == 4 else IPv6Network
    result = []
    for _ in range(count):
        length = rng.choice(lengths)
        result.append(str(network((rng.getrandbits(bits) >> (bits - length) << (bits - length), length))))
    return result


def interleaved(cases: dict[str, Callable[[], object]], rounds: int = 40, number: int = 5_000) -> dict[str, float]:
    """Microseconds per call of each case: the best round, the cases taking turns in every round."""
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, function in cases.items():
            best[name] = min(best[name], timeit.timeit(function, timer=time.process_time, number=number))
    return {name: seconds / number * 1e6 for name, seconds in best.items()}


def lookups() -> None:
    print("Network lookups (us per call; rounds interleaved across sizes): contains = trusted proxy test,")
    print("find = exempt network for identity, identity = the hashed store's identity string")
    for version, address in ((4, "203.0.113.7"), (6, "2001:db8:85a3::8a2e:370:7334")):
        cases: dict[str, Callable[[], object]] = {}
        for count in COUNTS:
            values = networks(version, count, random.Random(count))  # noqa: S311  (reproducible sample networks)
            rules = AddressRules(trusted_proxies=values, exempt_networks=values)
            parsed = ip_address(address)
            inside = rules.parse(values[-1].split("/")[0]) or parsed
            cases[f"contains {count}"] = partial(rules.trusted.contains, parsed)
            cases[f"contains, hit {count}"] = partial(rules.trusted.contains, inside)
            cases[f"find {count}"] = partial(rules.exempt.find, parsed)
            cases[f"identity {count}"] = partial(rules.identity, parsed, 32, 64)
        timings = interleaved(cases)
        for kind in ("contains", "contains, hit", "find", "identity"):
            figures = [timings[f"{kind} {count}"] for count in COUNTS]
            row = ", ".join(f"{count}: {figure:.3f}" for count, figure in zip(COUNTS, figures, strict=True))
            print(f"  IPv{version} {kind:<14} {row}  (10,000 / 1: {figures[-1] / figures[0]:.2f}x)")
        for count in COUNTS:
            ipset = netaddr.IPSet(networks(version, count, random.Random(count)))  # noqa: S311
            cost = per_call(ipset.__contains__, address, number=200)
            print(f"  IPv{version} netaddr IPSet membership, {count}: {cost:.1f}")


def parsing() -> None:
    print("Parsing one address, uncached (us per call)")
    for address in ("203.0.113.7", "2001:db8:85a3::8a2e:370:7334", "64:ff9b::203.0.113.7"):
        stdlib = per_call(ip_address, address)
        library = per_call(netaddr.IPAddress, address)
        rules = AddressRules()
        read = per_call(rules._read, address)
        cached = per_call(rules.parse, address)
        print(
            f"  {address}: ipaddress {stdlib:.2f}, netaddr {library:.2f}; "
            f"normalised read {read:.2f}, cached parse {cached:.3f}"
        )


def walk() -> None:
    print("Proxy walk, every entry a trusted proxy (the worst case; us per call)")
    rules = AddressRules(trusted_proxies=["10.0.0.0/8"])
    for entries in (1, 10, 100, 10_000, 100_000):
        header = ", ".join(f"10.{i % 250}.{i // 250 % 250}.1" for i in range(entries))
        cost = per_call(rules.client, "10.0.0.1", header, number=2_000)
        print(f"  {entries:>6} entries ({len(header):>7} characters): {cost:.2f}")
    single = "1" * 65_536
    print(f"  one 64 kB entry: {per_call(rules.client, '10.0.0.1', single, number=2_000):.2f}")
    spaces = " " * 65_536 + "10.0.0.2"
    print(f"  64 kB of spaces then a proxy: {per_call(rules.client, '10.0.0.1', spaces, number=2_000):.2f}")


def header_reads() -> None:
    print("header() (us per call)")
    names = [f"x-header-{i}".encode() for i in range(20)]
    raw = [(name, b"value") for name in names] + [(b"x-forwarded-for", b"203.0.113.7")]
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": raw}
    wsgi = RequestFactory().get("/", headers={"X-Forwarded-For": "203.0.113.7"})
    asgi = ASGIRequest(scope, io.BytesIO())
    smuggled = ASGIRequest({**scope, "headers": [*raw, (b"x_forwarded_for", b"198.51.100.9")]}, io.BytesIO())
    smuggled.META["HTTP_X_FORWARDED_FOR"] = "203.0.113.7,198.51.100.9"
    key = "HTTP_X_FORWARDED_FOR"
    print(f"  WSGI: {per_call(headers.header, wsgi, key):.3f}")
    print(f"  ASGI, this Django ({django.get_version()}): {per_call(headers.header, asgi, key):.3f}")
    headers.SCAN_ASGI_HEADERS = True
    try:
        print(f"  ASGI, older Django, 21 headers, none underscored: {per_call(headers.header, asgi, key):.2f}")
        print(f"  ASGI, older Django, an underscored one: {per_call(headers.header, smuggled, key):.2f}")
    finally:
        headers.SCAN_ASGI_HEADERS = not headers.drops_underscored_headers(django.VERSION)


if __name__ == "__main__":
    lookups()
    parsing()
    walk()
    header_reads()
