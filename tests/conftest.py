"""Fixtures: sync/async clients in the test's mode, clean caches, a user, a Redis server.

The plain helpers live in ``tests.helpers``; the names other modules import from here stay
importable (re-exported below).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches

from tests.helpers import (
    DEFAULT_IP,
    DEFAULT_UA,
    HEADER,
    AsyncClient,
    Client,
    Http,
    create_session,
    data_of,
    login,
    make_client,
    session_store,
    start_header_session,
    stored,
)

__all__ = [
    "DEFAULT_IP",
    "DEFAULT_UA",
    "HEADER",
    "AsyncClient",
    "Client",
    "Http",
    "create_session",
    "data_of",
    "login",
    "make_client",
    "session_store",
    "start_header_session",
    "stored",
]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Every behaviour is checked through Client/sync views and AsyncClient/async views."""
    return str(request.param)


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def async_client() -> AsyncClient:
    return AsyncClient()


@pytest.fixture
def http(mode: str, client: Client, async_client: AsyncClient) -> Http:
    """A browser: keeps cookies."""
    return Http(mode, client if mode == "sync" else async_client)


@pytest.fixture
def new_http(mode: str) -> Callable[..., Http]:
    """Make more clients in the test's mode: ``new_http(cookies=False, enforce_csrf_checks=True)``."""

    def make(*, cookies: bool = True, **client_kwargs: Any) -> Http:
        return Http(mode, make_client(mode, **client_kwargs), cookies=cookies)

    return make


@pytest.fixture
def header_http(new_http: Callable[..., Http]) -> Http:
    """A cookieless client: it only ever sends its key in X-SessionID."""
    return new_http(cookies=False)


@pytest.fixture(autouse=True)
def _clear_caches() -> Iterator[None]:
    for cache in caches.all():
        cache.clear()
    yield
    for cache in caches.all(initialized_only=True):
        cache.clear()


@pytest.fixture
def alice(db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="alice", password="unused")


# Redis ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, without persistence, for the whole run.

    If it cannot start, the tests that need it fail with the reason (never a skip).
    """
    import redis

    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not on PATH: run `python tests/provision.py` (apt-get install redis-server).")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                pytest.fail(f"redis-server exited with {process.returncode}: {output}")
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.exceptions.ConnectionError as error:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not answer on port {port}: {error}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
