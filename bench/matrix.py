"""The request benchmark: every stack x engine x handler x scenario, interleaved in one process.

Each configuration gets a handler of its own (its MIDDLEWARE and SESSION_ENGINE are read when the
handler is built). Counting passes run first (untimed, they also warm up); then each round runs,
for every configuration in a shuffled order, a batch of it and a batch of its baseline (Django
alone, same engine, handler, scenario and settings) taking turns request by request, so that
machine noise falls on both alike and the ratio of each round compares requests run side by side.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

from bench import drivers
from bench.counters import counting
from bench.site import USER
from bench.stacks import (
    ANONYMOUS,
    BASELINE,
    BASELINES,
    ENGINES,
    FIRST,
    PADDED_LOGIN,
    PATHS,
    STEADY,
    Client,
    Stack,
    runs_scenario,
)


@dataclass
class Config:
    stack: Stack
    engine: str
    handler: str
    scenario: str
    driver: drivers.Driver
    client: Client
    times: list[int] = field(default_factory=list)
    #: The median of each round's batch (ns), for ratios paired round by round.
    round_medians: list[float] = field(default_factory=list)
    #: The median of the baseline's batch run next to each of those (ns).
    baseline_round_medians: list[float] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.engine}/{self.handler}/{self.scenario}/{self.stack.name}"

    def settings(self) -> AbstractContextManager[Any]:
        # Overriding nothing would still swap Django's settings object: leave it alone.
        return override_settings(**self.stack.settings) if self.stack.settings else nullcontext()

    def result(self) -> dict[str, Any]:
        times = sorted(self.times)
        quantile = (lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1000) if times else None
        return {
            "stack": self.stack.name,
            "engine": self.engine,
            "handler": self.handler,
            "scenario": self.scenario,
            "requests": len(times),
            "median_us": statistics.median(times) / 1000 if times else None,
            "p10_us": quantile(0.1) if quantile else None,
            "p90_us": quantile(0.9) if quantile else None,
            "round_medians_us": [value / 1000 for value in self.round_medians],
            "baseline_round_medians_us": [value / 1000 for value in self.baseline_round_medians],
            **self.counts,
            "problems": self.problems,
        }


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def build_handler(stack: Stack, engine: str, kind: str) -> drivers.Driver:
    with override_settings(MIDDLEWARE=list(stack.middleware), SESSION_ENGINE=ENGINES[engine], **stack.settings):
        if kind == "wsgi":
            return drivers.WsgiDriver(WSGIHandler())
        return drivers.AsgiDriver(ASGIHandler(), asyncio.get_event_loop())


def establish(config: Config) -> None:
    """Start a session for the config's client with a login request through the same stack."""
    with config.settings():
        login(config)


def login(config: Config) -> None:
    """``establish`` for a caller that has the stack's settings in force already."""
    client = replace(config.client, mode=config.stack.client, key=None)
    path = PADDED_LOGIN if config.stack.padded else PATHS[FIRST]
    response = config.driver.call(config.driver.prepare(path, client, 1)[0])
    key = response.session_key()
    if response.status != 200 or key is None:
        raise RuntimeError(f"{config.name}: the login gave {response.status}, key {key!r}")
    config.client = replace(client, key=key)


def make_configs(stacks: list[Stack], engines: list[str], handlers: list[str]) -> list[Config]:
    configs = []
    for engine in engines:
        for kind in handlers:
            for stack in stacks:
                driver = build_handler(stack, engine, kind)
                for scenario in (STEADY, ANONYMOUS, FIRST):
                    if runs_scenario(stack, scenario):
                        config = Config(stack, engine, kind, scenario, driver, Client(mode=stack.client))
                        if scenario == STEADY:
                            establish(config)
                        configs.append(config)
    return configs


def count(config: Config, requests: int) -> None:
    """One untimed pass with counters on: SQL, writes, sessions created, Vary, and sanity."""
    inputs = config.driver.prepare(PATHS[config.scenario], config.client, requests)
    created = varies = 0
    with config.settings(), counting(ENGINES[config.engine]) as counts:
        for request in inputs:
            response = config.driver.call(request)
            if response.status != 200:
                config.problems.append(f"status {response.status}")
            if config.scenario == STEADY and response.body != USER.encode():
                config.problems.append(f"steady view read {response.body[:40]!r}, not the session")
            key = response.session_key()
            if (config.scenario != STEADY and key is not None) or (
                config.scenario == STEADY and key not in (None, config.client.key) and config.engine != "signed_cookies"
            ):
                created += 1
            varies += response.varies_on_cookie()
    if config.engine != "signed_cookies":
        created = counts.created_by_store
    config.problems[:] = sorted(set(config.problems))
    config.counts = {
        "sql_per_request": counts.statements / requests,
        "writes_per_request": (counts.session_writes if config.engine == "db" else counts.saves) / requests,
        "created_per_request": created / requests,
        "vary_cookie": varies / requests,
        "counted_requests": requests,
    }


def run(
    stacks: list[Stack],
    engines: list[str],
    handlers: list[str],
    *,
    rounds: int,
    batch: int,
    asgi_batch: int,
    counted: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The request tables' results, and those of the head-to-head pairs (``HEAD_TO_HEAD``)."""
    configs = make_configs(stacks, engines, handlers)
    log(f"requests: {len(configs)} configurations, {rounds} rounds of {batch} (WSGI) / {asgi_batch} (ASGI) requests")
    for config in configs:
        count(config, counted)
        if config.problems:
            log(f"  {config.name}: {'; '.join(config.problems)}")
    pairs = comparisons(configs)
    duels = [Duel(a, b) for a, b in head_to_head_pairs(configs)]
    shuffle = random.Random(5)  # noqa: S311 - an order, not a secret
    for number in range(rounds):
        shuffle.shuffle(pairs)
        for config, baseline in pairs:
            compare(config, baseline, batch, asgi_batch, shuffle)
        for duel in duels:
            duel.round(batch, shuffle)
        if number % max(1, rounds // 5) == 0:
            log(f"  round {number + 1}/{rounds}")
    return [config.result() for config in configs], [duel.result() for duel in duels]


#: Stacks also measured head to head, each pair taking turns request by request (WSGI, steady):
#: django-restricted-sessions 0.4 writes the session on every request, which also slows the
#: Django-alone requests beside it, so its speed-up is measured against ours directly.
HEAD_TO_HEAD = (("seed-rs", "rs-full"),)


def head_to_head_pairs(configs: list[Config]) -> list[tuple[Config, Config]]:
    found = {(c.engine, c.handler, c.scenario, c.stack.name): c for c in configs}
    pairs = []
    for first, second in HEAD_TO_HEAD:
        for engine in ENGINES:
            a, b = found.get((engine, "wsgi", STEADY, first)), found.get((engine, "wsgi", STEADY, second))
            if a is not None and b is not None:
                pairs.append((a, b))
    return pairs


@dataclass
class Duel:
    """Two configurations taking turns request by request, without a baseline (``HEAD_TO_HEAD``)."""

    first: Config
    second: Config
    #: Each round's two batch medians (ns): (first, second).
    round_medians: list[tuple[float, float]] = field(default_factory=list)

    def round(self, batch: int, shuffle: random.Random) -> None:
        pair = [self.first, self.second]
        inputs = [c.driver.prepare(PATHS[c.scenario], c.client, batch) for c in pair]
        times: list[list[int]] = [[], []]
        turns = [0, 1]
        for index in range(batch):
            shuffle.shuffle(turns)
            for turn in turns:
                with pair[turn].settings():
                    times[turn] += pair[turn].driver.timed([inputs[turn][index]])
        self.round_medians.append((statistics.median(times[0]), statistics.median(times[1])))

    def result(self) -> dict[str, Any]:
        return {
            "stacks": [self.first.stack.name, self.second.stack.name],
            "engine": self.first.engine,
            "handler": self.first.handler,
            "scenario": self.first.scenario,
            "round_medians_us": [[a / 1000, b / 1000] for a, b in self.round_medians],
        }


def comparisons(configs: list[Config]) -> list[tuple[Config, Config]]:
    """Every configuration with the Django-alone configuration it is compared with.

    The baseline has the same engine, handler and scenario, and runs in the same settings
    (``stacks.BASELINES``, else Django alone in the site's settings).
    """
    found = {(c.engine, c.handler, c.scenario, c.stack.name): c for c in configs}
    baselines = {BASELINE, *BASELINES.values()}
    pairs = []
    for config in configs:
        if config.stack.name in baselines:
            continue
        name = BASELINES.get(config.stack.name, BASELINE)
        baseline = found.get((config.engine, config.handler, config.scenario, name))
        if baseline is not None:
            pairs.append((config, baseline))
    return pairs


def compare(config: Config, baseline: Config, batch: int, asgi_batch: int, shuffle: random.Random) -> None:
    """A batch of ``config`` and one of its baseline, taking turns request by request.

    Only the two take turns (Django's code is common to both), in their shared settings, and in
    a fresh random order at each turn: seconds of drift in the machine's speed fall on both
    alike. The two batch medians are kept for the ratio of this round.
    """
    size = batch if config.handler == "wsgi" else asgi_batch
    pair = [config, baseline]
    inputs = [c.driver.prepare(PATHS[c.scenario], c.client, size) for c in pair]
    times: list[list[int]] = [[], []]
    turns = [0, 1]
    with config.settings():
        for index in range(size):
            shuffle.shuffle(turns)
            for turn in turns:
                times[turn] += pair[turn].driver.timed([inputs[turn][index]])
    for member, own in zip(pair, times, strict=True):
        member.times.extend(own)
    config.round_medians.append(statistics.median(times[0]))
    config.baseline_round_medians.append(statistics.median(times[1]))
