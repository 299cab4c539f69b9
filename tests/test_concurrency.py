"""Many requests on one session at the same time: threads under WSGI, tasks under ASGI.

What Django promises, and so what these tests hold the middleware to:

- A Django session is loaded whole when a request first touches it and saved whole when the
  response is made: the last request to save wins. Two requests that write *different* keys of
  one session at the same time can lose one of the writes, with Django's own SessionMiddleware
  as with ours (``test_concurrent_writers_lose_updates_like_django_itself`` shows it). No
  middleware can prevent that without locking the session, which Django does not do.
- What the middleware must add nothing to: no request of the rightful client is ever refused
  (no false restriction), nothing is a 500, the binding is never lost or rewritten, and since a
  steady request saves nothing, concurrent readers can never overwrite what a writer saved (the
  seed package saved the session on every request, and lost data exactly that way).
- A logout in one request while another is in flight: the in-flight request's save finds its
  session gone, and Django answers 400 (SessionInterrupted), never a 500.

WSGI threads use the cache (locmem) and file engines: the test database is an in-memory SQLite
database, which other threads cannot share safely. ASGI tasks also use the db engine (Django runs
its queries on one thread there). Real servers with several workers and shared stores are the
end-to-end suite's job.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from restricted_sessions.binding import Binding
from tests import reliability_urls
from tests.helpers import DEFAULT_IP, DEFAULT_UA, HEADER, AsyncClient, Client, bound, bound_ip, stored, ua_token

T = TypeVar("T")

# For the db engine under ASGI; the WSGI threads never touch the database.
pytestmark = pytest.mark.django_db

WORKERS = 8
REQUESTS_PER_WORKER = 6
# Under ASGI every request interleaves with the others at each await, so a few tasks already give
# every ordering of load and save; each AsyncClient request costs ten sync ones.
ASYNC_WRITERS = 16
ASYNC_READERS = 3
ASYNC_WRITES = 8

DJANGO_ONLY_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


@pytest.fixture(params=["cache", "file"])
def engine(request: pytest.FixtureRequest, settings: SettingsWrapper, tmp_path: Path) -> str:
    """A session engine that threads can share."""
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{request.param}"
    settings.SESSION_FILE_PATH = str(tmp_path)
    return str(request.param)


@pytest.fixture(params=["cache", "file", "db"])
def async_engine(request: pytest.FixtureRequest, settings: SettingsWrapper, tmp_path: Path) -> str:
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{request.param}"
    settings.SESSION_FILE_PATH = str(tmp_path)
    return str(request.param)


@pytest.fixture(autouse=True)
def _urls(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = "tests.reliability_urls"


# Sending requests -----------------------------------------------------------------------------


def request_kwargs(key: str, via_header: bool) -> dict[str, Any]:
    headers = {"User-Agent": DEFAULT_UA}
    if via_header:
        headers[HEADER] = key
    return {"headers": headers, "REMOTE_ADDR": DEFAULT_IP}


def sync_get(name: str, key: str, data: dict[str, str] | None = None, *, via_header: bool = True) -> Any:
    """One request from the session's own client (a new Client each time: Client is not thread-safe)."""
    client = Client()
    if not via_header:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    return client.get(reverse(f"sync:{name}"), data or {}, **request_kwargs(key, via_header))


async def async_get(name: str, key: str, data: dict[str, str] | None = None, *, via_header: bool = True) -> Any:
    client = AsyncClient()
    if not via_header:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    return await client.get(reverse(f"async:{name}"), data or {}, **request_kwargs(key, via_header))


def start_session(mode: str) -> str:
    """The client's first request creates and binds a session; its key."""
    path, data = reverse(f"{mode}:put"), {"key": "start", "value": "0"}
    kwargs: dict[str, Any] = {"headers": {"User-Agent": DEFAULT_UA, HEADER: ""}, "REMOTE_ADDR": DEFAULT_IP}
    response: Any
    if mode == "sync":
        response = Client().get(path, data, **kwargs)
    else:
        response = async_to_sync(AsyncClient().get)(path, data, **kwargs)
    assert response.status_code == 200
    key = str(response.headers[HEADER])
    assert bound_ip(stored(key)) == DEFAULT_IP
    return key


def in_threads(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``jobs`` on as many threads, released together."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T:
        barrier.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        return [future.result(timeout=60) for future in futures]


def in_tasks(jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``jobs`` as tasks of one event loop, as an ASGI server does."""

    async def run_all() -> list[T]:
        return list(await asyncio.gather(*(job() for job in jobs)))

    return async_to_sync(run_all)()


def assert_binding_kept(key: str) -> dict[str, Any]:
    data = stored(key)
    assert bound(data) == Binding(ip=DEFAULT_IP, ua=ua_token(DEFAULT_UA))
    return data


# Parallel writers --------------------------------------------------------------------------


def test_parallel_writers_under_wsgi_are_never_refused_and_keep_the_binding(engine: str) -> None:
    key = start_session("sync")

    def worker(w: int) -> Callable[[], list[int]]:
        def run() -> list[int]:
            statuses = []
            for r in range(REQUESTS_PER_WORKER):
                response = sync_get("put", key, {"key": f"k{w}-{r}", "value": str(r)}, via_header=w % 2 == 0)
                statuses.append(response.status_code)
            return statuses

        return run

    statuses = [status for result in in_threads([worker(w) for w in range(WORKERS)]) for status in result]

    assert statuses == [200] * WORKERS * REQUESTS_PER_WORKER
    data = assert_binding_kept(key)
    assert data["start"] == "0"
    written = {f"k{w}-{r}" for w in range(WORKERS) for r in range(REQUESTS_PER_WORKER)}
    kept = {name for name in data if name.startswith("k")}
    # Last write wins (Django's semantics): some of the parallel writes may be lost, but what is
    # kept was written by a request, and the last save kept its own key.
    assert kept
    assert kept <= written
    assert sync_get("look", key).status_code == 200


def test_parallel_writers_under_asgi_are_never_refused_and_keep_the_binding(async_engine: str) -> None:
    key = start_session("async")
    jobs = [
        partial(async_get, "put", key, {"key": f"k{i}", "value": str(i)}, via_header=i % 2 == 0)
        for i in range(ASYNC_WRITERS)
    ]

    statuses = [response.status_code for response in in_tasks(jobs)]

    assert statuses == [200] * len(jobs)
    data = assert_binding_kept(key)
    assert data["start"] == "0"
    kept = {name for name in data if name.startswith("k")}
    assert kept
    assert kept <= {f"k{i}" for i in range(len(jobs))}


# Readers never lose a writer's data --------------------------------------------------------


def test_parallel_readers_under_wsgi_never_lose_what_a_writer_saved(engine: str) -> None:
    key = start_session("sync")
    writes = 20
    done = threading.Event()

    def writer() -> list[int]:
        try:
            return [sync_get("put", key, {"key": f"w{i}", "value": str(i)}).status_code for i in range(writes)]
        finally:
            done.set()

    def reader(via_header: bool) -> Callable[[], list[int]]:
        def run() -> list[int]:
            statuses = []
            while not done.is_set():
                statuses.append(sync_get("look", key, via_header=via_header).status_code)
            return statuses

        return run

    results = in_threads([writer, *(reader(i % 2 == 0) for i in range(WORKERS - 1))])

    assert all(status == 200 for result in results for status in result)
    assert sum(len(result) for result in results[1:]) >= WORKERS - 1
    data = assert_binding_kept(key)
    assert {name: data[name] for name in data if name.startswith("w")} == {f"w{i}": str(i) for i in range(writes)}


def test_parallel_readers_under_asgi_never_lose_what_a_writer_saved(async_engine: str) -> None:
    key = start_session("async")
    writes = ASYNC_WRITES

    async def writer() -> list[int]:
        return [(await async_get("put", key, {"key": f"w{i}", "value": str(i)})).status_code for i in range(writes)]

    async def reader(via_header: bool) -> list[int]:
        return [(await async_get("look", key, via_header=via_header)).status_code for _ in range(writes)]

    jobs: list[Callable[[], Awaitable[list[int]]]] = [writer]
    jobs += [partial(reader, i % 2 == 0) for i in range(ASYNC_READERS)]
    results = in_tasks(jobs)

    assert all(status == 200 for result in results for status in result)
    data = assert_binding_kept(key)
    assert {name: data[name] for name in data if name.startswith("w")} == {f"w{i}": str(i) for i in range(writes)}


# Last write wins, with Django's middleware as with ours ---------------------------------------


@pytest.mark.parametrize("stack", ["restricted_sessions", "django"])
def test_concurrent_writers_lose_updates_like_django_itself(stack: str, settings: SettingsWrapper) -> None:
    """A documents Django's semantics: not a bug of this package, and not made worse by it."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    if stack == "django":
        settings.MIDDLEWARE = DJANGO_ONLY_MIDDLEWARE
    client = Client()
    response = client.get(reverse("sync:put"), {"key": "start", "value": "0"}, **request_kwargs("", False))
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    entered, release = threading.Event(), threading.Event()
    reliability_urls.GATES["slow"] = (entered, release)

    def slow_writer() -> Any:
        # Loads the session, writes "slow", then waits in the view while "fast" is saved.
        return sync_get("gated-put", key, {"key": "slow", "value": "1", "gate": "slow"}, via_header=False)

    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(slow_writer)
        assert entered.wait(timeout=30)
        fast = sync_get("put", key, {"key": "fast", "value": "1"}, via_header=False)
        release.set()
        assert slow.result(timeout=30).status_code == 200
    del reliability_urls.GATES["slow"]

    assert response.status_code == fast.status_code == 200
    data = stored(key)
    assert data["slow"] == "1"
    assert "fast" not in data  # saved by "fast", then overwritten by "slow": last write wins


# A logout while another request is in flight ----------------------------------------------------


def test_a_logout_during_a_request_under_wsgi_ends_it_with_400_not_500(engine: str) -> None:
    key = start_session("sync")
    entered, release = threading.Event(), threading.Event()
    reliability_urls.GATES["logout"] = (entered, release)

    def in_flight() -> Any:
        return sync_get("gated-put", key, {"key": "late", "value": "1", "gate": "logout"})

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(in_flight)
        assert entered.wait(timeout=30)
        logout = sync_get("flush", key)
        release.set()
        interrupted = pending.result(timeout=30)
    del reliability_urls.GATES["logout"]

    assert logout.status_code == 200
    assert logout.headers[HEADER] == ""  # the header client is told to drop its key
    # Django's SessionInterrupted: the save found the session gone.
    assert interrupted.status_code == 400
    assert stored(key) == {}
    # The old key is not brought back: the next request gets a fresh session.
    after = sync_get("peek", key)
    assert after.status_code == 200
    assert after.json()["data"] == {}
    assert after.headers[HEADER] not in ("", key)


def test_a_logout_during_a_request_under_asgi_ends_it_with_400_not_500(async_engine: str) -> None:
    key = start_session("async")

    async def scenario() -> tuple[Any, Any]:
        entered, release = asyncio.Event(), asyncio.Event()
        reliability_urls.AGATES["logout"] = (entered, release)
        try:
            pending = asyncio.ensure_future(
                async_get("gated-put", key, {"key": "late", "value": "1", "gate": "logout"})
            )
            await asyncio.wait_for(entered.wait(), timeout=30)
            logout = await async_get("flush", key)
            release.set()
            return logout, await asyncio.wait_for(pending, timeout=30)
        finally:
            del reliability_urls.AGATES["logout"]

    logout, interrupted = async_to_sync(scenario)()

    assert logout.status_code == 200
    assert logout.headers[HEADER] == ""
    assert interrupted.status_code == 400
    assert stored(key) == {}
    after = async_to_sync(async_get)("peek", key)
    assert after.status_code == 200
    assert after.json()["data"] == {}
    assert after.headers[HEADER] not in ("", key)
