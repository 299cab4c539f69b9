"""How a request's cost grows with what a site configures and what a client sends, in process.

WSGI, db engine, the steady scenario (a session that was logged in by the same client). Curves:

* ``networks``: n networks in TRUSTED_PROXIES and n in IP_EXEMPT_NETWORKS (every option on), the
  proxy in the last trusted network and the client in none of the exempt ones, IPv4 and IPv6;
* ``forwarding``: an X-Forwarded-For of k entries, all but the client's trusted proxies
  (10.0.0.0/8, every option on), including the largest header that servers accept (8 kB);
* ``user_agent``: a User-Agent of 100 B to 100 kB, default settings and every option.

Django alone gets the same requests in the same settings at every point (it ignores what it
does not read), so "our time" is their difference, paired round by round in the report. In each
round, a point's settings are switched in, one untimed request per stack pays for rebuilding what
the library caches, and then the point's two or three stacks take turns request by request.
"""

from __future__ import annotations

import ipaddress
import random
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any

from bench.matrix import Config, build_handler, log, login
from bench.site import USER
from bench.stacks import CHROME, EVERY_OPTION, PATHS, STACKS_BY_NAME, STEADY, Client, Stack

# What servers accept in one header line: gunicorn's limit_request_field_size (8190 bytes),
# nginx's large_client_header_buffers (8 kB).
SERVER_HEADER_LIMIT = 8190
FULL = {"networks": (1, 10, 100, 1_000, 10_000), "forwarding": (1, 10, 100, 1_000, 10_000),
        "user_agent": (100, 1_000, 10_000, 100_000)}  # fmt: skip
QUICK = {"networks": (1, 100), "forwarding": (1, 100), "user_agent": (100, 10_000)}


@dataclass
class Point:
    curve: str
    series: str
    x: int
    stack: Stack
    client: Client
    settings: dict[str, Any]


@dataclass
class Cell:
    point: Point
    config: Config
    status: int
    size: int
    times: list[int] = field(default_factory=list)
    #: The median of each round's batch (ns), so that two stacks' points can be paired round by round.
    round_medians: list[float] = field(default_factory=list)


def networks(kind: str, count: int, offset: int) -> list[str]:
    """``count`` disjoint networks: IPv4 /30s of 100.64.0.0/10 or IPv6 /64s of 2001:db8::/32."""
    if kind == "IPv4":
        base = int(ipaddress.IPv4Address("100.64.0.0")) + offset * 4 * 20_000
        return [f"{ipaddress.IPv4Address(base + 4 * i)}/30" for i in range(count)]
    return [f"2001:db8:{offset + 1:x}:{i:x}::/64" for i in range(count)]


def network_points(sizes: tuple[int, ...]) -> list[Point]:
    points = []
    for kind, client_addr in (("IPv4", "203.0.113.7"), ("IPv6", "2001:db8:85a3::8a2e:370:7334")):
        for count in sizes:
            trusted = networks(kind, count, 0)
            proxy = str(ipaddress.ip_network(trusted[-1])[1])
            settings = EVERY_OPTION | {
                "RESTRICTEDSESSIONS_TRUSTED_PROXIES": trusted,
                "RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS": networks(kind, count, 1),
            }
            client = Client(remote_addr=proxy, forwarded_for=client_addr)
            for name in ("django", "rs-full-all"):
                points.append(Point("networks", kind, count, STACKS_BY_NAME[name], client, settings))
    return points


def forwarded_for(entries: int) -> str:
    """The client, then ``entries - 1`` trusted proxies of 10.0.0.0/8."""
    hops = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(1, entries)]
    return ", ".join(["203.0.113.7", *hops])


def server_limit_entries() -> int:
    """The most entries whose ``X-Forwarded-For: ...`` line fits in SERVER_HEADER_LIMIT bytes."""
    low, high = 1, 10_000
    while low < high:
        middle = (low + high + 1) // 2
        if len("X-Forwarded-For: ") + len(forwarded_for(middle)) <= SERVER_HEADER_LIMIT:
            low = middle
        else:
            high = middle - 1
    return low


def forwarding_points(sizes: tuple[int, ...]) -> list[Point]:
    points = []
    for entries in sorted({*sizes, server_limit_entries()}):
        client = Client(remote_addr="10.1.2.3", forwarded_for=forwarded_for(entries))
        for name in ("django", "rs-full-all"):
            points.append(
                Point("forwarding", "trusted hops", entries, STACKS_BY_NAME[name], client, dict(EVERY_OPTION))
            )
    return points


def user_agent_points(sizes: tuple[int, ...]) -> list[Point]:
    points = []
    for size in sizes:
        agent = (CHROME + " " + "X" * size)[:size]
        client = Client(user_agent=agent)
        for name in ("django", "rs-full", "rs-full-all"):
            stack = STACKS_BY_NAME[name]
            points.append(Point("user_agent", stack.name, size, stack, client, dict(stack.settings)))
    return points


def measure(points: list[Point], rounds: int, batch: int, budget: float) -> list[dict[str, Any]]:
    """Median µs per request of every point; a cell's batch shrinks so that a round costs about ``budget`` s."""
    shuffle = random.Random(11)  # noqa: S311 - an order, not a secret
    cells = []
    for point in points:
        stack = replace(point.stack, settings=point.settings)
        config = Config(stack, "db", "wsgi", STEADY, build_handler(stack, "db", "wsgi"), replace(point.client))
        status = 200
        with config.settings():
            try:
                login(config)
            except RuntimeError:
                status = 0  # refused at login: timed without a session, shown as refused
            check = config.driver.call(config.driver.prepare(PATHS[STEADY], config.client, 1)[0])
            if check.status != 200 or (status and check.body != USER.encode()):
                status = check.status or status
        cells.append(Cell(point, config, status, batch))
    groups: dict[tuple[object, ...], list[Cell]] = {}
    for cell in cells:
        point = cell.point
        settings = tuple(sorted((name, repr(value)) for name, value in point.settings.items()))
        groups.setdefault((point.curve, point.series, point.x, settings), []).append(cell)
    order = list(groups.values())
    for number in range(rounds):
        shuffle.shuffle(order)
        for group in order:
            _round(group, number == 0, batch, budget, shuffle)
    results = []
    for cell in cells:
        point, times = cell.point, sorted(cell.times)
        results.append(
            {
                "curve": point.curve,
                "series": point.series,
                "stack": point.stack.name,
                "x": point.x,
                "header_bytes": len(point.client.forwarded_for or "") if point.curve == "forwarding" else None,
                "requests": len(times),
                "median_us": statistics.median(times) / 1000,
                "p90_us": times[int(0.9 * (len(times) - 1))] / 1000,
                "round_medians_us": [value / 1000 for value in cell.round_medians],
                "status": cell.status,
            }
        )
    return sorted(results, key=lambda r: (r["curve"], r["series"], r["x"], r["stack"]))


def _round(group: list[Cell], first: bool, batch: int, budget: float, shuffle: random.Random) -> None:
    """One round of a point: its stacks take turns request by request, in the point's settings."""
    with group[0].config.settings():
        for cell in group:
            # Untimed: pays for rebuilding what the library caches after the settings changed.
            cell.config.driver.call(cell.config.driver.prepare(PATHS[STEADY], cell.config.client, 1)[0])
        if first:
            started = time.perf_counter()
            for cell in group:
                cell.config.driver.call(cell.config.driver.prepare(PATHS[STEADY], cell.config.client, 1)[0])
            size = max(3, min(batch, int(budget / max(time.perf_counter() - started, 1e-6))))
            for cell in group:
                cell.size = size
        inputs = [cell.config.driver.prepare(PATHS[STEADY], cell.config.client, cell.size) for cell in group]
        times: list[list[int]] = [[] for _ in group]
        turns = list(range(len(group)))
        for index in range(group[0].size):
            shuffle.shuffle(turns)
            for turn in turns:
                times[turn] += group[turn].config.driver.timed([inputs[turn][index]])
    for cell, own in zip(group, times, strict=True):
        cell.times.extend(own)
        cell.round_medians.append(statistics.median(own))


def run(quick: bool, rounds: int, batch: int) -> list[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    budget = 0.005 if quick else 0.08
    results = []
    for curve, make in (("networks", network_points), ("forwarding", forwarding_points),
                        ("user_agent", user_agent_points)):  # fmt: skip
        started = time.monotonic()
        results += measure(make(sizes[curve]), rounds, batch, budget)
        log(f"growth: {curve} done in {time.monotonic() - started:.0f} s")
    return results
