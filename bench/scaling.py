"""Scaling: does a request cost the same on a session's 1st, 10th, 100th and 1000th request, and
with bound values that are IPv4, IPv6 or a 100 kB User-Agent?

db engine, WSGI. For each cell the same number of timed requests is spread over as many sessions
as needed (1,000 sessions of 1 request ... 1 session of 1,000); each session starts with an
untimed login, and the stacks take turns session by session.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import replace
from typing import Any

from bench.matrix import Config, build_handler, log, login
from bench.site import USER
from bench.stacks import HUGE_UA, PATHS, STACKS_BY_NAME, STEADY, Client

STACK_NAMES = ("django", "rs-full", "rs-full-all")
CLIENTS = {
    "IPv4": Client(remote_addr="203.0.113.7", forwarded_for=None),
    "IPv6": Client(remote_addr="2001:db8:85a3::8a2e:370:7334", forwarded_for=None),
    "100 kB UA": Client(remote_addr="203.0.113.7", forwarded_for=None, user_agent=HUGE_UA),
}


def run(counts: tuple[int, ...], total: int) -> list[dict[str, Any]]:
    stacks = [STACKS_BY_NAME[name] for name in STACK_NAMES]
    configs = {
        stack.name: Config(stack, "db", "wsgi", STEADY, build_handler(stack, "db", "wsgi"), Client())
        for stack in stacks
    }
    shuffle = random.Random(7)  # noqa: S311 - an order, not a secret
    results = []
    for kind, template in CLIENTS.items():
        for per_session in counts:
            sessions = max(1, math.ceil(total / per_session))
            times: dict[str, list[int]] = {name: [] for name in configs}
            problems: dict[str, str] = {}
            for number in range(sessions):
                order = list(configs.values())
                shuffle.shuffle(order)
                for config in order:
                    config.client = replace(template, mode=config.stack.client)
                    # One settings switch per session, before its login: switching right before
                    # the timed requests would make them pay for Django's settings caches.
                    with config.settings():
                        login(config)
                        inputs = config.driver.prepare(PATHS[STEADY], config.client, per_session)
                        if number == 0:
                            # Untimed check: the session is bound and read back by this client.
                            response = config.driver.call(inputs.pop())
                            inputs.append(config.driver.prepare(PATHS[STEADY], config.client, 1)[0])
                            if response.status != 200 or response.body != USER.encode():
                                problems[config.stack.name] = f"status {response.status}"
                        times[config.stack.name].extend(config.driver.timed(inputs))
            baseline = statistics.median(times["django"]) / 1000
            for name, values in times.items():
                median = statistics.median(values) / 1000
                results.append(
                    {
                        "stack": name,
                        "bound": kind,
                        "per_session": per_session,
                        "sessions": sessions,
                        "requests": len(values),
                        "median_us": median,
                        "ratio": median / baseline,
                        "problem": problems.get(name),
                    }
                )
            log(f"scaling: {kind}, {per_session} per session done")
    return results
