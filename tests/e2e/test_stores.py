"""The core behaviour against every session engine on a real store, in-process.

The example project's views and middleware, driven through Django's Client (WSGI path) and
AsyncClient (ASGI path), with the sessions in: PostgreSQL and SQLite (``db``), Redis through
Django's RedisCache (``cache``, ``cached_db``), files (``file``) and signed cookies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings

from restricted_sessions.conf import get_config
from tests.conftest import AsyncClient, Client, Http
from tests.e2e.clients import DEMO_PASSWORD, DEMO_USER
from tests.e2e.servers import RedisServer
from tests.restriction_helpers import BINDING_KEY, bound

IP, OTHER_IP, IPV6 = "192.0.2.10", "198.51.100.20", "2001:db8::10"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
OTHER_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15"
HEADER = "X-SessionID"
SIGNED = "django.contrib.sessions.backends.signed_cookies"

pytestmark = pytest.mark.django_db(databases=["default", "postgres"])

STORES = ["db-postgresql", "db-sqlite", "cache-redis", "cached_db-redis", "file", "signed_cookies"]


@pytest.fixture(params=STORES)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis: RedisServer, postgres: Any
) -> Iterator[str]:
    """Settings for one engine on its real store; yields the store's name."""
    name = str(request.param)
    engine, _, backend = name.partition("-")
    overrides: dict[str, Any] = {"SESSION_ENGINE": f"django.contrib.sessions.backends.{engine}"}
    if backend == "postgresql":
        overrides["E2E_SESSION_DATABASE"] = "postgres"
    if backend == "redis":
        overrides["CACHES"] = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url(2)}
        }
    if engine == "file":
        overrides["SESSION_FILE_PATH"] = str(tmp_path)
    with override_settings(**overrides):
        yield name


@pytest.fixture(autouse=True)
def demo_user(db: None) -> None:
    get_user_model().objects.create_user(DEMO_USER, password=DEMO_PASSWORD)


class Visitor(Http):
    """The unit suite's client adapter, coming from IP with UA unless told otherwise."""

    def request(self, method: str, name: str, data: Any = None, *, ip: str | None = IP, ua: str | None = UA,
                **kwargs: Any) -> Any:
        return super().request(method, name, data, ip=ip, ua=ua, **kwargs)


@pytest.fixture(params=["sync", "async"])
def site(request: pytest.FixtureRequest) -> Callable[..., Http]:
    """Clients of the example project, through Client (WSGI) or AsyncClient (ASGI)."""

    def make(*, cookies: bool = True) -> Http:
        client = Client() if request.param == "sync" else AsyncClient()
        return Visitor(str(request.param), client, cookies=cookies)

    return make


def engine() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def stored(key: str) -> dict[str, Any]:
    return dict(engine()(key).load())


def gone(key: str) -> bool:
    """The store no longer holds the session (signed cookies have no store: nothing to check)."""
    return settings.SESSION_ENGINE == SIGNED or not engine()().exists(key)


def login_with_cookie(http: Http, ip: str = IP, ua: str = UA) -> str:
    response = http.post("/api/login/", json.dumps({"username": DEMO_USER, "password": DEMO_PASSWORD}),
                         content_type="application/json", ip=ip, ua=ua)
    assert response.status_code == 200, response.content
    key = http.cookie_key
    assert key is not None
    return key


def login_with_header(http: Http, ip: str = IP, ua: str = UA) -> str:
    started = http.get("/api/login/", ip=ip, ua=ua, key="")
    assert started.status_code == 200
    response = http.post("/api/login/", json.dumps({"username": DEMO_USER, "password": DEMO_PASSWORD}),
                         content_type="application/json", ip=ip, ua=ua, key=started.headers[HEADER])
    assert response.status_code == 200, response.content
    key = response.headers[HEADER]
    assert key
    assert key != started.headers[HEADER]
    return key


def me(http: Http, **kwargs: Any) -> tuple[int, str | None]:
    response = http.get("/api/me/", **kwargs)
    return response.status_code, (json.loads(response.content)["user"] if response.status_code != 400 else None)


@pytest.mark.parametrize("ip", [IP, IPV6])
def test_login_binds_the_session_and_the_same_client_keeps_it(
    store: str, site: Callable[..., Http], ip: str
) -> None:
    http = site()
    key = login_with_cookie(http, ip=ip)
    if settings.SESSION_ENGINE != SIGNED:
        binding = bound(stored(key))
        assert (binding.ip, binding.ua) == (ip, get_config().policy.ua_token(UA))
    for _ in range(3):
        assert me(http, ip=ip) == (200, DEMO_USER)
    assert http.cookie_key == key


@pytest.mark.parametrize(
    ("ip", "ua"), [(IP, OTHER_UA), (OTHER_IP, UA), (IPV6, UA)], ids=["user_agent", "ip", "ipv4_to_ipv6"]
)
def test_a_changed_client_is_refused_and_the_session_flushed(
    store: str, site: Callable[..., Http], ip: str, ua: str
) -> None:
    owner = site()
    key = login_with_cookie(owner)

    thief = site()
    thief.client.cookies[settings.SESSION_COOKIE_NAME] = key
    refused = thief.get("/api/me/", ip=ip, ua=ua)

    assert refused.status_code == 400
    assert refused.content == b""
    assert gone(key)
    thief.client.cookies[settings.SESSION_COOKIE_NAME] = key
    if settings.SESSION_ENGINE == SIGNED:
        # No store to flush: the stolen cookie is refused each time it comes back, and the
        # owner's own copy still carries a valid signed session.
        assert me(thief, ip=ip, ua=ua) == (400, None)
        assert me(owner) == (200, DEMO_USER)
    else:
        # The session is over, for the thief and for the owner, and its key stays refused.
        assert me(thief, ip=ip, ua=ua) == (400, None)
        assert me(owner) == (400, None)


def test_header_sessions_bind_validate_and_end(store: str, site: Callable[..., Http]) -> None:
    client = site(cookies=False)
    key = login_with_header(client)
    assert me(client, key=key) == (200, DEMO_USER)
    assert client.get("/api/me/", key=key).headers.get(HEADER) is None  # steady state: nothing to change

    refused = client.get("/api/me/", key=key, ua=OTHER_UA)
    assert refused.status_code == 400
    assert refused.headers[HEADER] == ""
    assert gone(key)
    if settings.SESSION_ENGINE != SIGNED:
        answer = client.get("/api/me/", key=key)
        assert (answer.status_code, answer.headers[HEADER]) == (400, "")


def test_a_made_up_header_key_is_never_adopted(store: str, site: Callable[..., Http]) -> None:
    client = site(cookies=False)
    made_up = "a" * 32
    response = client.get("/api/login/", key=made_up)
    assert response.status_code == 200
    assert response.headers[HEADER] not in ("", made_up)


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_authed_only_binds_logged_in_sessions_only(store: str, site: Callable[..., Http]) -> None:
    client = site(cookies=False)
    anonymous = client.get("/api/login/", ua=UA, key="")
    key = anonymous.headers[HEADER]
    if settings.SESSION_ENGINE != SIGNED:
        assert BINDING_KEY not in stored(key)
    # An anonymous session is not checked: another User-Agent may use it.
    assert client.get("/api/me/", key=key, ua=OTHER_UA).status_code == 401

    key = login_with_header(client)
    assert me(client, key=key) == (200, DEMO_USER)
    refused = client.get("/api/me/", key=key, ua=OTHER_UA)
    assert refused.status_code == 400
    assert gone(key)
    # Logged out in the store; a signed cookie cannot be revoked, so the owner's copy still works.
    assert me(client, key=key) == ((200, DEMO_USER) if settings.SESSION_ENGINE == SIGNED else (400, None))
