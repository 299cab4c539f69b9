"""DPoP-bound header sessions on real servers: gunicorn and uvicorn sharing PostgreSQL and Redis.

Both servers run the example project with ``RESTRICTEDSESSIONS_DPOP="optional"`` and
``RESTRICTEDSESSIONS_DPOP_RESTRICT_IP=false`` (the site relies on the key, not the address), sessions
in one PostgreSQL database, the cache (and so the ``jti`` store) in one Redis. The owner logs in
with ``DPoPSessionAuth`` and browses on both; a thief who holds the session key, but not the
private key, is refused whatever it sends. The two servers stand for one site behind a load
balancer: a request to either may name the other's host, as the load balancer's public name would.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from restricted_sessions.dpop_client import DPoPSessionAuth
from tests.e2e.clients import DEMO_PASSWORD, DEMO_USER, HEADER, TIMEOUT, user_of, worker
from tests.e2e.conftest import postgres_session_exists, running
from tests.e2e.servers import AppServer, PostgresServer, RedisServer, prepare_example

UA = "demo-app/2.0 (Android 15; okhttp)"


@dataclass
class Site:
    """The two servers of one site and a look into the shared session store."""

    servers: list[AppServer]
    session_exists: Callable[[str], bool]

    def urls(self) -> list[str]:
        return [server.base_url() for server in self.servers]


@pytest.fixture(scope="module")
def site(postgres: PostgresServer, redis: RedisServer, workdir: Callable[[str], Path]) -> Iterator[Site]:
    """gunicorn (WSGI) and uvicorn (ASGI), one worker each, one PostgreSQL database, one Redis."""
    config = {
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        "REDIS_URL": redis.url(3),
        "RESTRICTEDSESSIONS_DPOP": "optional",
        "RESTRICTEDSESSIONS_DPOP_RESTRICT_IP": "false",
    }
    root = workdir("dpop")
    servers = [AppServer(kind, config, root, workers=1, ipv6=False) for kind in ("gunicorn", "uvicorn")]

    def start() -> list[AppServer]:
        config["DATABASE_URL"] = postgres.create_database("dpop_example")
        prepare_example(config, DEMO_PASSWORD)
        for server in servers:
            server.settings.update(config)
            server.start()
        return servers

    def stop() -> None:
        for server in servers:
            server.stop()

    with running(start, stop):
        yield Site(servers, postgres_session_exists(postgres, "dpop_example"))


def no_cookies() -> http.cookiejar.CookieJar:
    # A header client: whatever Set-Cookie the server sends is never stored or sent back.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def send(
    base_url: str,
    method: str,
    path: str,
    *,
    auth: httpx.Auth | None = None,
    local_address: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request on a new connection, from ``local_address`` when given (a 127.0.0.x alias)."""
    headers = {"User-Agent": UA, **kwargs.pop("headers", {})}
    transport = httpx.HTTPTransport(local_address=local_address)
    with httpx.Client(base_url=base_url, transport=transport, cookies=no_cookies(), timeout=TIMEOUT) as http:
        return http.request(method, path, auth=auth, headers=headers, **kwargs)


def log_in(base_url: str, auth: DPoPSessionAuth, local_address: str | None = None) -> str:
    started = send(base_url, "GET", "/api/login/", auth=auth, local_address=local_address)
    assert started.status_code == 200, started.text
    first = auth.session_key
    assert first
    credentials = {"username": DEMO_USER, "password": DEMO_PASSWORD}
    response = send(base_url, "POST", "/api/login/", auth=auth, json=credentials, local_address=local_address)
    assert response.status_code == 200, response.text
    assert auth.session_key
    assert auth.session_key != first
    return auth.session_key


def signed(auth: DPoPSessionAuth, method: str, url: str) -> dict[str, str]:
    """The owner's headers for one request (session key and a fresh proof), as a thief would copy them."""
    request = next(auth.auth_flow(httpx.Request(method, url)))
    return {HEADER: request.headers[HEADER], "DPoP": request.headers["DPoP"]}


def host(url: str) -> str:
    return httpx.URL(url).netloc.decode("ascii")


@pytest.fixture
def owner(site: Site) -> tuple[DPoPSessionAuth, str]:
    """A logged-in owner who has browsed on both servers; its auth and session key."""
    auth = DPoPSessionAuth()
    key = log_in(site.urls()[0], auth)
    for url in site.urls() * 2:
        me = send(url, "GET", "/api/me/", auth=auth)
        assert (me.status_code, user_of(me)) == (200, DEMO_USER)
        assert HEADER not in me.headers  # steady state: no new key
    assert auth.session_key == key
    assert site.session_exists(key)
    return auth, key


def assert_owner_unaffected(site: Site, auth: DPoPSessionAuth, key: str) -> None:
    for url in site.urls():
        me = send(url, "GET", "/api/me/", auth=auth)
        assert (me.status_code, user_of(me)) == (200, DEMO_USER)
    assert auth.session_key == key
    assert site.session_exists(key)


def assert_session_ended(site: Site, auth: DPoPSessionAuth, key: str) -> None:
    assert not site.session_exists(key)
    # The owner's next request carries a key refused before: FAILURE_STATUS, and the client is
    # told to drop the key; from then on it is anonymous on every server.
    refused = send(site.urls()[0], "GET", "/api/me/", auth=auth)
    assert (refused.status_code, refused.headers[HEADER]) == (400, "")
    assert auth.session_key is None
    for url in site.urls():
        me = send(url, "GET", "/api/me/", auth=auth)
        assert (me.status_code, user_of(me)) == (401, None)
        assert not site.session_exists(key)


def test_the_owner_browses_on_both_servers(site: Site, owner: tuple[DPoPSessionAuth, str]) -> None:
    auth, key = owner
    pids = {worker(send(url, "GET", "/api/me/", auth=auth)) for url in site.urls()}
    assert len(pids) == 2  # two server processes answered the same key-bound session
    assert_owner_unaffected(site, auth, key)


@pytest.mark.parametrize("server", [0, 1])
def test_a_the_stolen_key_without_a_proof_is_refused_and_ends_the_session(
    site: Site, owner: tuple[DPoPSessionAuth, str], server: int
) -> None:
    auth, key = owner
    stolen = send(site.urls()[server], "GET", "/api/me/", headers={HEADER: key})
    assert stolen.status_code == 401
    assert 'error="invalid_dpop_proof"' in stolen.headers["WWW-Authenticate"]
    assert stolen.headers[HEADER] == ""
    # A key-bound session used without its key is a change like another address: it ends.
    assert_session_ended(site, auth, key)


@pytest.mark.parametrize("server", [0, 1])
def test_b_a_proof_from_another_key_is_refused_and_ends_the_session(
    site: Site, owner: tuple[DPoPSessionAuth, str], server: int
) -> None:
    auth, key = owner
    thief = DPoPSessionAuth(session_key=key)
    stolen = send(site.urls()[server], "GET", "/api/me/", auth=thief, local_address="127.0.0.3")
    assert stolen.status_code == 401
    assert "bound to another key: it has ended" in stolen.headers["WWW-Authenticate"]
    assert thief.session_key is None
    assert_session_ended(site, auth, key)


@pytest.mark.parametrize(("first", "second"), [(0, 1), (1, 0)])
def test_c_a_replayed_proof_is_refused_by_the_other_server(
    site: Site, owner: tuple[DPoPSessionAuth, str], first: int, second: int
) -> None:
    auth, key = owner
    # One public name for the site: the proof is made for the first server's URL, and the
    # replay reaches the second one with that Host, so only the shared jti store can catch it.
    url = site.urls()[first] + "/api/me/"
    headers = signed(auth, "GET", url)
    assert send(site.urls()[first], "GET", "/api/me/", headers=headers).status_code == 200
    replay = send(site.urls()[second], "GET", "/api/me/", headers={**headers, "Host": host(url)})
    assert replay.status_code == 401
    assert "used before" in replay.headers["WWW-Authenticate"]
    # The same Host with a fresh proof is served: the refusal was the replay's alone.
    fresh = send(site.urls()[second], "GET", "/api/me/", headers={**signed(auth, "GET", url), "Host": host(url)})
    assert (fresh.status_code, user_of(fresh)) == (200, DEMO_USER)
    assert_owner_unaffected(site, auth, key)


@pytest.mark.parametrize(
    ("signed_for", "sent_as", "refusal"),
    [
        (("GET", "/api/me/"), ("POST", "/api/logout/"), "htm"),
        (("GET", "/api/me/"), ("GET", "/api/login/"), "htu"),
        (("POST", "/api/logout/"), ("GET", "/api/me/"), "htm"),
    ],
)
def test_d_a_proof_for_another_url_or_method_is_refused(
    site: Site,
    owner: tuple[DPoPSessionAuth, str],
    signed_for: tuple[str, str],
    sent_as: tuple[str, str],
    refusal: str,
) -> None:
    auth, key = owner
    for url in site.urls():
        headers = signed(auth, signed_for[0], url + signed_for[1])
        stolen = send(url, sent_as[0], sent_as[1], headers=headers)
        assert stolen.status_code == 401
        assert f"proof's {refusal} is not" in stolen.headers["WWW-Authenticate"]
        assert HEADER not in stolen.headers  # a refused proof never touches the session
    assert_owner_unaffected(site, auth, key)


def test_a_phone_whose_address_changes_every_request_keeps_its_session(site: Site) -> None:
    auth = DPoPSessionAuth()
    key = log_in(site.urls()[0], auth, local_address="127.0.0.10")
    for n in range(11, 21):
        url = site.urls()[n % 2]
        me = send(url, "GET", "/api/me/", auth=auth, local_address=f"127.0.0.{n}")
        assert (me.status_code, user_of(me), me.json()["client_ip"]) == (200, DEMO_USER, f"127.0.0.{n}")
    assert auth.session_key == key
    # The key still guards it: the same addresses without the key are refused.
    stolen = send(site.urls()[1], "GET", "/api/me/", headers={HEADER: key}, local_address="127.0.0.20")
    assert stolen.status_code == 401
