"""Fixtures of the end-to-end suite: real servers on loopback, started once per run and always stopped.

A server that cannot be found or started fails the tests that need it, with the reason; nothing
here ever skips. ``python tests/provision.py e2e`` installs the Debian packages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings

from tests.e2e.clients import DEMO_PASSWORD
from tests.e2e.servers import (
    AppServer,
    Nginx,
    PostgresServer,
    RedisServer,
    ServerError,
    StaticSite,
    prepare_example,
)

T = TypeVar("T")

# The address nginx connects to the app from: the one trusted proxy of the deployments.
PROXY_ADDRESS = "127.0.0.9"


@contextmanager
def running(start: Callable[[], T], stop: Callable[[], None]) -> Iterator[T]:
    """Start a server, hand it to the tests, always stop it; a start failure fails the tests."""
    try:
        try:
            server = start()
        except ServerError as exc:
            pytest.fail(f"could not start a server the end-to-end tests need: {exc}", pytrace=False)
        yield server
    finally:
        stop()


@pytest.fixture(scope="session")
def workdir() -> Iterator[Callable[[str], Path]]:
    """``workdir(name)``: a fresh directory for one server's files, all removed after the run.

    Outside pytest's per-user temp tree, which the users that servers drop to cannot traverse.
    """
    root = Path(tempfile.mkdtemp(prefix="rs-e2e-"))
    os.chmod(root, 0o755)  # noqa: S103 - readable by the users servers drop to

    def make(name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        os.chmod(path, 0o755)  # noqa: S103
        return path

    try:
        yield make
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """PostgreSQL at the place tests/e2e/settings.py names (Django reads DATABASES once)."""
    where = settings.E2E_POSTGRES  # type: ignore[misc]
    server = PostgresServer(where["port"], Path(where["root"]))
    with running(server.start, server.stop) as started:
        yield started


@pytest.fixture(scope="session")
def django_db_setup(postgres: PostgresServer, django_db_setup: None) -> None:
    """pytest-django's test databases, created once PostgreSQL is up."""


@pytest.fixture(scope="session")
def redis(workdir: Callable[[str], Path]) -> Iterator[RedisServer]:
    server = RedisServer(workdir("redis"))
    with running(server.start, server.stop) as started:
        yield started


@pytest.fixture(scope="session")
def other_origin() -> Iterator[StaticSite]:
    """A second loopback origin (another port) whose pages call the API cross-origin."""
    site = StaticSite()
    with running(site.start, site.stop) as started:
        yield started


# Deployments of the example project ------------------------------------------------------------


@dataclass
class Deployment:
    """The example project on a real server with a shared session store."""

    name: str
    server: AppServer
    session_exists: Callable[[str], bool]
    extras: dict[str, Any] = field(default_factory=dict)

    def url(self, host: str = "127.0.0.1") -> str:
        return self.server.base_url(host)


def deployment_settings(other_origin: StaticSite, **more: str) -> dict[str, str]:
    """As the docs tell users to deploy: CORS for the header, behind one trusted proxy."""
    return {
        "CORS_ALLOWED_ORIGINS": other_origin.origin,
        "RESTRICTEDSESSIONS_TRUSTED_PROXIES": f'["{PROXY_ADDRESS}/32"]',
        "RESTRICTEDSESSIONS_FAILURE_STATUS": "400",
        **more,
    }


def redis_session_exists(redis: RedisServer, db: int) -> Callable[[str], bool]:
    client = redis.client(db)
    # The key Django's cache engine stores a session under (KEY_PREFIX "", VERSION 1).
    return lambda key: bool(client.exists(f":1:django.contrib.sessions.cache{key}"))


def postgres_session_exists(postgres: PostgresServer, dbname: str) -> Callable[[str], bool]:
    return lambda key: bool(
        postgres.query("SELECT count(*) FROM django_session WHERE session_key = %s", [key], dbname)[0][0]
    )


@pytest.fixture(scope="session")
def gunicorn_redis(
    redis: RedisServer, other_origin: StaticSite, workdir: Callable[[str], Path]
) -> Iterator[Deployment]:
    """gunicorn, 2 sync workers, sessions in Redis through Django's RedisCache (cache engine)."""
    root = workdir("gunicorn")
    config = deployment_settings(
        other_origin,
        DATABASE_URL=f"sqlite:///{root / 'example.sqlite3'}",
        REDIS_URL=redis.url(1),
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
    )
    server = AppServer("gunicorn", config, root, workers=2)

    def start() -> AppServer:
        prepare_example(config, DEMO_PASSWORD)
        return server.start()

    with running(start, server.stop):
        yield Deployment("gunicorn+redis", server, redis_session_exists(redis, 1))


@pytest.fixture(scope="session")
def uvicorn_postgres(
    postgres: PostgresServer, redis: RedisServer, other_origin: StaticSite, workdir: Callable[[str], Path]
) -> Iterator[Deployment]:
    """uvicorn, 2 workers (and one more for ::1), sessions in PostgreSQL (db engine).

    The workers share a Redis cache, as RESTRICTEDSESSIONS_CACHE needs: it remembers refused keys.
    """
    root = workdir("uvicorn")
    config = deployment_settings(
        other_origin, SESSION_ENGINE="django.contrib.sessions.backends.db", REDIS_URL=redis.url(4)
    )
    server = AppServer("uvicorn", config, root, workers=2)

    def start() -> AppServer:
        config["DATABASE_URL"] = postgres.create_database("uvicorn_example")
        server.settings.update(config)
        prepare_example(config, DEMO_PASSWORD)
        return server.start()

    with running(start, server.stop):
        yield Deployment("uvicorn+postgresql", server, postgres_session_exists(postgres, "uvicorn_example"))


@pytest.fixture(scope="session", params=["gunicorn_redis", "uvicorn_postgres"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """Each multi-worker deployment in turn: WSGI with Redis sessions, ASGI with PostgreSQL sessions."""
    return request.getfixturevalue(str(request.param))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def proxied(deployment: Deployment, workdir: Callable[[str], Path]) -> Iterator[Nginx]:
    """nginx in front of the deployment, appending the client's address to X-Forwarded-For."""
    nginx = Nginx(deployment.server.port, PROXY_ADDRESS, workdir("nginx"))
    with running(nginx.start, nginx.stop) as started:
        yield started


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver for the whole run: its sync API allows one at a time per thread."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # fail loudly, never skip
        raise ImportError(f"the browser tests need Playwright (the tox env e2e installs it): {exc}") from exc
    with sync_playwright() as driver:
        yield driver
