"""The session store failing under a real server: no worse than Django's own SessionMiddleware.

Two gunicorn servers of the example project share each fault: one with the library's stack,
one with Django's SessionMiddleware and CsrfViewMiddleware (``E2E_STACK=django``). Each has one
worker, so that which request meets the broken connection is deterministic and the two stacks
can be compared request by request. Whatever the store does, a request whose session cannot be
loaded is never served as the session's user, and everything works again once the store is back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tests.e2e.clients import DEMO_PASSWORD, DEMO_USER, CookieClient, replay, user_of
from tests.e2e.conftest import running
from tests.e2e.servers import AppServer, PostgresServer, RedisServer, free_port, prepare_example

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
OTHER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"
STACKS = ("library", "django")

Outcome = tuple[int, str | None]


def outcome(response: httpx.Response) -> Outcome:
    return response.status_code, user_of(response)


def start_pair(
    servers: dict[str, AppServer],
    settings_of: Callable[[str], dict[str, str]],
    workdir: Callable[[str], Path],
    kind: str = "gunicorn",
) -> None:
    """One single-worker server per stack, into ``servers`` (so that a failed start still stops all)."""
    for stack in STACKS:
        env = settings_of(stack) | ({"E2E_STACK": "django"} if stack == "django" else {})
        servers[stack] = AppServer(kind, env, workdir(f"fault-{kind}-{stack}"), workers=1, ipv6=False)
        servers[stack].start()


def stop_all(servers: dict[str, AppServer]) -> None:
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def fault_redis(workdir: Callable[[str], Path]) -> Iterator[RedisServer]:
    """A Redis of the fault tests' own, which they stop and start again."""
    server = RedisServer(workdir("fault-redis"))
    with running(server.start, server.stop) as started:
        yield started


@pytest.fixture(scope="module")
def on_redis(fault_redis: RedisServer, workdir: Callable[[str], Path]) -> Iterator[dict[str, AppServer]]:
    """Each stack on gunicorn with the cache engine on ``fault_redis``."""
    database = workdir("fault-redis-db") / "example.sqlite3"

    def settings_of(stack: str) -> dict[str, str]:
        return {
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": fault_redis.url(STACKS.index(stack)),
            "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
        }

    def start() -> None:
        prepare_example(settings_of("library"), DEMO_PASSWORD)  # one database for both stacks
        start_pair(servers, settings_of, workdir)

    servers: dict[str, AppServer] = {}
    with running(start, lambda: stop_all(servers)):
        yield servers


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def on_postgres(
    request: pytest.FixtureRequest, postgres: PostgresServer, workdir: Callable[[str], Path]
) -> Iterator[dict[str, AppServer]]:
    """Each stack on gunicorn (WSGI) or uvicorn (ASGI) with the db engine on PostgreSQL, connections kept."""
    kind = str(request.param)

    def settings_of(stack: str) -> dict[str, str]:
        return {
            "DATABASE_URL": postgres.url(f"fault_{kind}_{stack}"),
            "SESSION_ENGINE": "django.contrib.sessions.backends.db",
            # A connection kept between requests is the one a failover or a restart kills.
            "CONN_MAX_AGE": "600",
        }

    def start() -> None:
        for stack in STACKS:
            postgres.create_database(f"fault_{kind}_{stack}")
            prepare_example(settings_of(stack), DEMO_PASSWORD)
        start_pair(servers, settings_of, workdir, kind)

    servers: dict[str, AppServer] = {}
    with running(start, lambda: stop_all(servers)):
        yield servers


def test_redis_stopped_and_back_behaves_like_django(fault_redis: RedisServer, on_redis: dict[str, AppServer]) -> None:
    owners = {stack: CookieClient(server.base_url(), UA) for stack, server in on_redis.items()}
    keys = {}
    for stack, owner in owners.items():
        owner.login()
        keys[stack] = owner.key or ""
        assert outcome(owner.me()) == (200, DEMO_USER)

    fault_redis.stop()
    try:
        during: dict[str, list[Outcome]] = {}
        for stack, server in on_redis.items():
            url = server.base_url()
            during[stack] = [
                outcome(replay(url, keys[stack], ua=UA, via="cookie")),  # the owner
                outcome(replay(url, keys[stack], ua=OTHER_UA, via="cookie")),  # a thief
                outcome(replay(url, keys[stack], ua=OTHER_UA, via="cookie", path="/session/")),
                outcome(httpx.get(f"{url}/login/", timeout=60)),  # a page that needs no session
                outcome(httpx.get(f"{url}/api/login/", timeout=60)),  # a new session: cannot be saved
            ]
            server.check_running()
    finally:
        fault_redis.start()

    assert during["library"] == during["django"]
    # Nobody is served as the user while the session cannot be loaded.
    assert during["library"] == [(401, None), (401, None), (302, None), (200, None), (500, None)]

    after: dict[str, list[Outcome]] = {}
    for stack, server in on_redis.items():
        owner = CookieClient(server.base_url(), UA)
        owner.login()
        after[stack] = [outcome(owner.me()), outcome(replay(server.base_url(), owner.key or "", ua=UA, via="cookie"))]
        owner.close()
    assert after["library"] == after["django"] == [(200, DEMO_USER), (200, DEMO_USER)]
    # And the restriction is back in force.
    owner = CookieClient(on_redis["library"].base_url(), UA)
    owner.login()
    assert outcome(replay(on_redis["library"].base_url(), owner.key or "", ua=OTHER_UA, via="cookie")) == (400, None)
    for client in [owner, *owners.values()]:
        client.close()


def test_killed_postgresql_connections_behave_like_django(
    postgres: PostgresServer, on_postgres: dict[str, AppServer]
) -> None:
    owner_saw: dict[str, list[Outcome]] = {}
    for stack, server in on_postgres.items():
        database = server.settings["DATABASE_URL"].rpartition("/")[2]
        url = server.base_url()
        owner = CookieClient(url, UA)
        owner.login()
        key = owner.key or ""
        seen = [outcome(owner.me())]
        assert postgres.terminate_backends(database) >= 1  # the connections the server keeps
        seen.append(outcome(owner.me()))  # meets a dead connection, if the server reuses them
        seen.append(outcome(owner.me()))
        owner_saw[stack] = seen
        server.check_running()

        if stack == "library":
            # A thief whose request meets the dead connection is not served, and the binding holds.
            assert postgres.terminate_backends(database) >= 1
            stolen = outcome(replay(url, key, ua=OTHER_UA, via="cookie"))
            assert stolen in [(500, None), (400, None)]
            if stolen[0] == 500:
                assert outcome(replay(url, key, ua=OTHER_UA, via="cookie")) == (400, None)
            assert outcome(owner.me()) == (400, None)  # a refused key stays refused
        owner.close()

    assert owner_saw["library"] == owner_saw["django"]
    if on_postgres["library"].kind == "gunicorn":
        # One 500 where the kept connection was dead; Django then drops it and reconnects.
        assert owner_saw["library"] == [(200, DEMO_USER), (500, None), (200, DEMO_USER)]
    else:
        # Under ASGI Django runs each request's queries in a thread of its own, so no connection
        # outlives its request (Django's docs advise CONN_MAX_AGE=0 there) and the kill is unseen.
        assert owner_saw["library"] == [(200, DEMO_USER)] * 3


# In-process: a cache that cannot be reached ----------------------------------------------------


@pytest.fixture
def unreachable_redis() -> dict[str, dict[str, str]]:
    """CACHES pointing at a loopback port where nothing listens."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("engine", "while_down"),
    [
        # The session reads as empty: an anonymous request, as with Django alone.
        ("django.contrib.sessions.backends.cache", 401),
        # Django's cached_db raises when it cannot refill the cache: a 500, as with Django alone.
        ("django.contrib.sessions.backends.cached_db", 500),
    ],
)
def test_a_cache_that_cannot_be_reached_never_serves_the_user_and_the_binding_survives(
    redis: RedisServer, unreachable_redis: dict[str, dict[str, str]], engine: str, while_down: int
) -> None:
    get_user_model().objects.create_user(DEMO_USER, password=DEMO_PASSWORD)
    reachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url(3)}}
    owner = Client(HTTP_USER_AGENT=UA, raise_request_exception=False)
    thief = Client(HTTP_USER_AGENT=OTHER_UA, raise_request_exception=False)
    with override_settings(SESSION_ENGINE=engine, CACHES=reachable):
        body = json.dumps({"username": DEMO_USER, "password": DEMO_PASSWORD})
        assert owner.post("/api/login/", body, content_type="application/json").status_code == 200
    key = owner.cookies["sessionid"].value

    with override_settings(SESSION_ENGINE=engine, CACHES=unreachable_redis):
        for client in (owner, thief):
            client.cookies["sessionid"] = key
            response = client.get("/api/me/")
            assert response.status_code == while_down
            assert DEMO_USER.encode() not in response.content

    with override_settings(SESSION_ENGINE=engine, CACHES=reachable):
        owner.cookies["sessionid"] = thief.cookies["sessionid"] = key
        assert owner.get("/api/me/").json()["user"] == DEMO_USER  # the store is back, the session too
        assert thief.get("/api/me/").status_code == 400  # and so is the binding
        assert owner.get("/api/me/").status_code == 400  # and the refused key stays refused
