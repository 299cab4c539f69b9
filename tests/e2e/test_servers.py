"""The example project on real servers with several workers sharing one session store.

Each test runs against gunicorn (2 sync workers, sessions in Redis) and uvicorn (2 workers,
sessions in PostgreSQL), over loopback with httpx; every request opens a new connection, so
requests land on either worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.clients import DEMO_USER, HEADER, CookieClient, HeaderClient, replay, user_of, worker
from tests.e2e.conftest import Deployment
from tests.e2e.servers import Nginx

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
OTHER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"
MAX_TRIES = 200


def on_every_worker(deployment: Deployment, send: Callable[[], httpx.Response]) -> dict[str, list[httpx.Response]]:
    """Send requests, a few at a time, until the deployment's 2 workers have each answered some."""
    answers: dict[str, list[httpx.Response]] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(MAX_TRIES // 4):
            for response in pool.map(lambda _: send(), range(4)):
                answers.setdefault(worker(response), []).append(response)
            if len(answers) >= deployment.server.workers and sum(map(len, answers.values())) >= 8:
                return answers
    pytest.fail(f"{MAX_TRIES} requests reached only the workers {sorted(answers)} of {deployment.name}")


Client = CookieClient | HeaderClient


@pytest.fixture
def new_client() -> Iterator[Callable[..., Client]]:
    """``new_client(cls, base_url, ua=UA, local_address=None)``, closed after the test."""
    made: list[Client] = []

    def make(cls: type[Client], base_url: str, ua: str = UA, local_address: str | None = None) -> Client:
        made.append(cls(base_url, ua, local_address))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=["cookie", "header"])
def client(request: pytest.FixtureRequest, deployment: Deployment, new_client: Callable[..., Client]) -> Client:
    """A logged-in client of the deployment: a browser-like cookie client, or a cookieless one."""
    logged_in = new_client(CookieClient if request.param == "cookie" else HeaderClient, deployment.url())
    logged_in.login()
    return logged_in


def via(client: Client) -> str:
    return "cookie" if isinstance(client, CookieClient) else "header"


def test_the_session_works_on_every_worker(deployment: Deployment, client: Client) -> None:
    key = client.key
    answers = on_every_worker(deployment, client.me)
    for responses in answers.values():
        assert [(r.status_code, user_of(r)) for r in responses] == [(200, DEMO_USER)] * len(responses)
    assert client.key == key  # steady state: the key never changes
    me = client.me().json()
    assert (me["bound_ip"], me["ua_is_bound"]) == ("127.0.0.1", True)


@pytest.mark.parametrize(
    ("change", "host", "local_address", "ua"),
    [
        ("user_agent", "127.0.0.1", None, OTHER_UA),
        ("ipv4_address", "127.0.0.1", "127.0.0.2", UA),
        ("ipv4_to_ipv6", "::1", None, UA),
    ],
)
def test_a_replayed_key_is_refused_and_the_session_is_gone_for_every_worker(
    deployment: Deployment,
    client: Client,
    change: str,
    host: str,
    local_address: str | None,
    ua: str,
) -> None:
    key = client.key
    assert key is not None
    assert deployment.session_exists(key)

    stolen = replay(deployment.url(host), key, ua=ua, via=via(client), local_address=local_address)

    assert stolen.status_code == 400
    assert stolen.content == b""
    if via(client) == "header":
        assert stolen.headers[HEADER] == ""  # the client is told to drop the key
    assert not deployment.session_exists(key)
    # The key stays refused, for the owner too, whichever worker answers (a shared cache remembers it).
    owner = replay(deployment.url(), key, ua=UA, via=via(client))
    assert (owner.status_code, user_of(owner)) == (400, None)
    answers = on_every_worker(deployment, lambda: replay(deployment.url(), key, ua=UA, via=via(client)))
    assert {(r.status_code, user_of(r)) for rs in answers.values() for r in rs} == {(400, None)}


def test_a_cookieless_client_works_entirely_through_the_header(
    deployment: Deployment, new_client: Callable[..., Client]
) -> None:
    client = new_client(HeaderClient, deployment.url())
    assert isinstance(client, HeaderClient)
    started = client.request("GET", "/api/login/")
    assert started.status_code == 200
    assert started.headers[HEADER]
    assert started.headers["Cache-Control"] == "private, no-store"
    first_key = client.key

    logged_in = client.request("POST", "/api/login/", json={"username": DEMO_USER, "password": "e2e-demo-password"})
    assert logged_in.status_code == 200  # no CSRF token: header sessions skip the check
    assert client.key not in (None, first_key)
    assert not deployment.session_exists(first_key or "")  # login cycled the key

    for _ in range(6):
        me = client.me()
        assert (me.status_code, user_of(me), me.json()["header_session"]) == (200, DEMO_USER, True)
        assert "set-cookie" not in me.headers

    logged_out = client.request("POST", "/api/logout/")
    assert logged_out.status_code == 200
    assert logged_out.headers[HEADER] == ""
    assert not client.key  # dropped
    assert client.me().status_code == 401


def test_a_cookie_post_without_csrf_token_is_still_refused(
    deployment: Deployment, new_client: Callable[..., Client]
) -> None:
    client = new_client(CookieClient, deployment.url())
    client.login()
    refused = client.http.post("/api/logout/")
    assert refused.status_code == 403
    assert user_of(client.me()) == DEMO_USER


# Behind a reverse proxy ------------------------------------------------------------------------


@pytest.mark.parametrize("via_proxy", ["cookie", "header"])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_behind_the_proxy_the_client_address_is_the_one_the_proxy_saw(
    deployment: Deployment, proxied: Nginx, via_proxy: str, host: str, new_client: Callable[..., Client]
) -> None:
    client = new_client(CookieClient if via_proxy == "cookie" else HeaderClient, proxied.base_url(host))
    client.login()
    me = client.me()
    assert me.status_code == 200
    # Bound to the client, not to the proxy (127.0.0.9) nor to anything the client claims.
    assert me.json()["bound_ip"] == host
    assert me.json()["client_ip"] == "127.0.0.9"
    # The legitimate client's own (forged or stale) X-Forwarded-For changes nothing.
    headers = {"X-Forwarded-For": "203.0.113.7", **({HEADER: client.key or ""} if via_proxy == "header" else {})}
    assert client.http.get("/api/me/", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("forged", "host", "local_address"),
    [
        ("127.0.0.1", "127.0.0.1", "127.0.0.2"),
        ("127.0.0.1, 127.0.0.9", "127.0.0.1", "127.0.0.2"),
        ("127.0.0.1", "::1", None),
    ],
)
def test_behind_the_proxy_a_forged_x_forwarded_for_cannot_pass_as_the_victim(
    deployment: Deployment,
    proxied: Nginx,
    forged: str,
    host: str,
    local_address: str | None,
    new_client: Callable[..., Client],
) -> None:
    victim = new_client(HeaderClient, proxied.base_url())
    victim.login()
    key = victim.key
    assert key is not None

    with httpx.Client(transport=httpx.HTTPTransport(local_address=local_address), timeout=30) as attacker:
        stolen = attacker.get(
            f"{proxied.base_url(host)}/api/me/",
            headers={"User-Agent": UA, HEADER: key, "X-Forwarded-For": forged},
        )

    assert stolen.status_code == 400
    assert not deployment.session_exists(key)
    assert victim.me().status_code == 400  # the refused key stays refused
    assert victim.key is None  # and the victim was told to drop it


def test_without_the_proxy_a_forged_x_forwarded_for_is_ignored(
    deployment: Deployment, new_client: Callable[..., Client]
) -> None:
    victim = new_client(HeaderClient, deployment.url())
    victim.login()
    key = victim.key
    assert key is not None
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30) as attacker:
        stolen = attacker.get(
            f"{deployment.url()}/api/me/",
            headers={"User-Agent": UA, HEADER: key, "X-Forwarded-For": "127.0.0.1"},
        )
    assert stolen.status_code == 400
    assert not deployment.session_exists(key)
