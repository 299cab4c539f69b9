"""Fixtures: sync/async clients in the test's mode, clean caches, a user, a Redis server; each test
in its own copy of the context.

The plain helpers live in ``tests.helpers``; the names other modules import from here stay
importable (re-exported below).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _pytest.runner import runtestprotocol
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
from tests.loopback import RedisServer, ServerError

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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """Run each test (setup, call, teardown) in a copy of the context, as a server runs each request.

    Every settings change makes Django create new asgiref ``Local`` objects (URL resolvers, cache
    handlers), each a context variable once used. Set in the one context of the whole run, they
    would pile up, and asgiref copies every context variable on each sync/async switch: late tests
    would pay for all earlier ones (AsyncClient requests several times slower by the end of a run).
    """
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    contextvars.copy_context().run(runtestprotocol, item, nextitem=nextitem)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


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


@pytest.fixture
def bob(db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="bob", password="unused")


# Redis ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, without persistence, for the whole run.

    If it cannot start, the tests that need it fail with the reason (never a skip).
    """
    server = RedisServer(tmp_path_factory.mktemp("redis"), timeout=10)
    try:
        server.start()
    except ServerError as error:
        pytest.fail(f"{error}\n(`python tests/provision.py` installs redis-server as root)", pytrace=False)
    try:
        yield server.url()
    finally:
        server.stop()
