"""A bounded load run against the example project on gunicorn (2 workers, sessions in Redis).

Many legitimate clients, each with its own User-Agent (cookie clients and cookieless header
clients, from 127.0.0.1 and 127.0.0.2), browse concurrently while thieves replay some of their
keys with another User-Agent or from another address. The run asserts: no error, no legitimate
request refused, every stolen key refused (and its session over). It prints the numbers; with
``RESTRICTED_SESSIONS_WRITE_LOAD_DOC=1`` it also writes them to docs/performance-load.rst.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.e2e.clients import DEMO_USER, CookieClient, HeaderClient, replay, user_of
from tests.e2e.conftest import Deployment
from tests.e2e.servers import REPO, program

CLIENTS = 40
REQUESTS_PER_CLIENT = 70
THREADS = 8
STOLEN_EVERY = 2  # every other client has its key stolen half-way through
DOC = REPO / "docs" / "performance-load.rst"


def ua_of(number: int) -> str:
    return f"Mozilla/5.0 (X11; Linux x86_64) LoadClient/{number} (e2e; +restricted_sessions)"


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    false_restrictions: list[str] = field(default_factory=list)
    thefts: int = 0
    thefts_refused: int = 0
    sessions_ended: int = 0

    def timed(self, send: object) -> httpx.Response:
        start = time.perf_counter()
        try:
            response = send()  # type: ignore[operator]
        except httpx.HTTPError as exc:
            with self.lock:
                self.requests += 1
                self.errors.append(repr(exc))
            raise
        elapsed = time.perf_counter() - start
        with self.lock:
            self.requests += 1
            self.latencies.append(elapsed)
            if response.status_code >= 500:
                self.errors.append(f"{response.status_code} {response.request.url}")
        return response  # type: ignore[no-any-return]


def one_client(deployment: Deployment, number: int, tally: Tally) -> None:
    local_address = "127.0.0.2" if number % 4 == 3 else None
    cls = CookieClient if number % 2 == 0 else HeaderClient
    client = cls(deployment.url(), ua_of(number), local_address)
    try:
        tally.timed(client.login)
        with tally.lock:
            tally.requests += 1  # a login is two requests, timed together
        stolen_at = REQUESTS_PER_CLIENT // 2 if number % STOLEN_EVERY == 1 else None
        for index in range(REQUESTS_PER_CLIENT):
            if index == stolen_at:
                key = client.key or ""
                via = "cookie" if cls is CookieClient else "header"
                # Half the thieves copy the User-Agent too, but come from another address.
                if number % 4 == 1:
                    thief_ua, thief_address = ua_of(number + 1000), local_address
                else:
                    thief_ua, thief_address = ua_of(number), "127.0.0.3"
                response = tally.timed(
                    lambda: replay(deployment.url(), key, via=via, ua=thief_ua, local_address=thief_address)  # noqa: B023
                )
                with tally.lock:
                    tally.thefts += 1
                    tally.thefts_refused += response.status_code == 400
                    tally.sessions_ended += not deployment.session_exists(key)
            response = tally.timed(client.me)
            if stolen_at is None or index < stolen_at:
                expected: tuple[int, str | None] = (200, DEMO_USER)
            else:
                # The owner's first request after the theft carries the refused key: refused again
                # (400), which drops it (empty X-SessionID, or the cookie deleted); then no session.
                expected = (400, None) if index == stolen_at else (401, None)
            if (response.status_code, user_of(response)) != expected:
                with tally.lock:
                    tally.false_restrictions.append(
                        f"client {number} request {index}: {response.status_code} {user_of(response)}"
                    )
    finally:
        client.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_load_run(deployment_for_load: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    tally = Tally()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for future in [pool.submit(one_client, deployment_for_load, n, tally) for n in range(CLIENTS)]:
            future.result()
    wall = time.perf_counter() - started

    ms = [1000 * seconds for seconds in tally.latencies]
    numbers = {
        "requests": tally.requests,
        "clients (sessions)": CLIENTS,
        "concurrent clients": THREADS,
        "wall time (s)": f"{wall:.1f}",
        "throughput (requests/s)": f"{tally.requests / wall:.0f}",
        "latency p50 / p95 / p99 / max (ms)": (
            f"{statistics.median(ms):.1f} / {percentile(ms, 0.95):.1f} / {percentile(ms, 0.99):.1f} / {max(ms):.1f}"
        ),
        "errors (5xx or transport)": len(tally.errors),
        "legitimate requests refused or wrong": len(tally.false_restrictions),
        "stolen keys replayed": tally.thefts,
        "stolen keys refused (400)": tally.thefts_refused,
        "stolen sessions gone from Redis": tally.sessions_ended,
    }
    with capsys.disabled():
        print("\nLoad run against", deployment_for_load.name)
        for name, value in numbers.items():
            print(f"  {name:40} {value}")
    if os.environ.get("RESTRICTED_SESSIONS_WRITE_LOAD_DOC") == "1":
        DOC.write_text(load_page(numbers), encoding="utf-8")

    assert tally.requests >= 2000
    assert tally.errors == []
    assert tally.false_restrictions == []
    assert tally.thefts == CLIENTS // STOLEN_EVERY
    assert tally.thefts_refused == tally.sessions_ended == tally.thefts


@pytest.fixture
def deployment_for_load(gunicorn_redis: Deployment) -> Deployment:
    return gunicorn_redis


def ordinal(every: int) -> str:
    return "other" if every == 2 else f"{every}th"


def load_page(numbers: dict[str, object]) -> str:
    redis_version = subprocess.run(
        [program("redis-server"), "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    rows = "\n".join(f"   * - {name}\n     - {value}" for name, value in numbers.items())
    return f"""Load run
========

The end-to-end suite's load run (``tests/e2e/test_load.py``) drives the example project on a
real server over loopback and checks that the restriction holds under concurrency: no errors,
no legitimate client refused, every replayed stolen key refused and its session ended.

Set-up
------

* gunicorn, 2 sync workers, the example project with the library's full middleware stack;
  sessions in Redis (Django's ``cache`` engine with ``django.core.cache.backends.redis.RedisCache``).
* {CLIENTS} legitimate clients, each with its own User-Agent: half cookie clients that log in
  through the login form, half cookieless clients that carry their key in ``X-SessionID``; a
  quarter of them connect from 127.0.0.2. {THREADS} clients run at a time, each sending
  {REQUESTS_PER_CLIENT} ``GET /api/me/`` after its login, a new connection per request.
* Every {ordinal(STOLEN_EVERY)} client's key is stolen half-way: a thief replays it with another
  User-Agent, or with the same User-Agent from 127.0.0.3. The owner's next request, with the
  refused key, must then be answered 400 (a refused key stays refused), which tells it to drop
  the key, and its later requests 401 (no session); every other request 200 as the user.

Results
-------

Measured on {datetime.now(UTC).date().isoformat()} on {os.cpu_count()} cores ({cpu}), shared with the load
generator (httpx in a thread pool) and whatever else the machine was running.

.. list-table::
   :header-rows: 0

{rows}

Versions: Python {platform.python_version()}, Django {version("Django")}, gunicorn {version("gunicorn")},
httpx {version("httpx")}, redis-server {redis_version[2].removeprefix("v=") if len(redis_version) > 2 else "?"},
restricted_sessions {version("restricted_sessions")}.

Reproduce
---------

.. code-block:: console

    $ RESTRICTED_SESSIONS_WRITE_LOAD_DOC=1 python3 -m tox -e e2e -- tests/e2e/test_load.py

The same run, without rewriting this page, is part of the README's test command.
"""
