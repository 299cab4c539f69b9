"""Shared fixtures: sync/async clients behind one small adapter, session helpers, a Redis server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse

if TYPE_CHECKING:
    # What the test clients return: an HttpResponse with .json() and the request attached.
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse
else:
    TestResponse = HttpResponse
from django.test import AsyncClient as DjangoAsyncClient
from django.test import Client as DjangoClient
from django.urls import reverse

from tests.loopback import RedisServer, ServerError

DEFAULT_IP = "10.0.0.1"
DEFAULT_UA = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"
HEADER = "X-SessionID"

# Sent to AsyncClient as a pseudo header and turned into the ASGI scope's "client" entry.
_ADDRESS_HEADER = b"x-test-remote-addr"
_NO_ADDRESS = "\x00no-address"


class Client(DjangoClient):
    """Django's Client; ``REMOTE_ADDR=None`` sends a request without any address."""

    def _base_environ(self, **request: Any) -> dict[str, Any]:
        environ: dict[str, Any] = super()._base_environ(**request)  # type: ignore[misc]
        if environ.get("REMOTE_ADDR") is None:
            del environ["REMOTE_ADDR"]
        return environ


class AsyncClient(DjangoAsyncClient):
    """Django's AsyncClient that, like Client, takes ``REMOTE_ADDR=...`` (None: no address).

    ASGI carries the address in the scope's ``client`` entry, which AsyncClient fixes at
    127.0.0.1; this sets it per request.
    """

    def generic(self, method: str, path: str, *args: Any, **extra: Any) -> Any:  # type: ignore[override]
        if "REMOTE_ADDR" in extra:
            address = extra.pop("REMOTE_ADDR")
            extra["X_TEST_REMOTE_ADDR"] = _NO_ADDRESS if address is None else address
        return super().generic(method, path, *args, **extra)

    def _base_scope(self, **request: Any) -> dict[str, Any]:
        scope: dict[str, Any] = super()._base_scope(**request)  # type: ignore[misc]
        headers = []
        for name, value in scope["headers"]:
            if name != _ADDRESS_HEADER:
                headers.append((name, value))
                continue
            address = value.decode("latin1")
            if address == _NO_ADDRESS:
                scope.pop("client", None)
            else:
                scope["client"] = [address, 0]
        scope["headers"] = headers
        return scope


class Http:
    """One client of the site: Client against the sync views, or AsyncClient against the async ones.

    Every request carries a User-Agent (``ua``, default DEFAULT_UA; None sends none) and comes
    from ``ip`` (default DEFAULT_IP; None sends no address). ``key`` sends a session key in the
    X-SessionID header. With ``cookies=False`` the client never sends cookies (a header client).
    Responses are returned synchronously in both modes.
    """

    def __init__(self, mode: str, client: DjangoClient | DjangoAsyncClient, *, cookies: bool = True):
        self.mode = mode
        self.client = client
        self.keeps_cookies = cookies

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    def url(self, name: str) -> str:
        return reverse(f"{self.mode}:{name}")

    def get(self, name: str, data: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("get", name, data, **kwargs)

    def post(self, name: str, data: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("post", name, data, **kwargs)

    def request(
        self,
        method: str,
        name: str,
        data: Any = None,
        *,
        ip: str | None = DEFAULT_IP,
        ua: str | None = DEFAULT_UA,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> TestResponse:
        all_headers = dict(headers or {})
        if ua is not None:
            all_headers["User-Agent"] = ua
        if key is not None:
            all_headers[HEADER] = key
        if not self.keeps_cookies:
            self.client.cookies.clear()
        call = getattr(self.client, method)
        path = name if name.startswith("/") else self.url(name)
        args = (path, data) if data is not None else (path,)
        kwargs = {"headers": all_headers, "REMOTE_ADDR": ip, **extra}
        if self.is_async:
            response: TestResponse = async_to_sync(call)(*args, **kwargs)
        else:
            response = call(*args, **kwargs)
        if not self.keeps_cookies:
            self.client.cookies.clear()
        return response

    @property
    def cookie_key(self) -> str | None:
        """The session key in the client's cookie jar."""
        morsel = self.client.cookies.get(settings.SESSION_COOKIE_NAME)
        return morsel.value if morsel is not None and morsel.value else None


def make_client(mode: str, **kwargs: Any) -> DjangoClient | DjangoAsyncClient:
    return Client(**kwargs) if mode == "sync" else AsyncClient(**kwargs)


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


# Session helpers ---------------------------------------------------------------------------


def session_store(key: str | None = None) -> Any:
    """A SessionStore of the configured engine."""
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)


def stored(key: str) -> dict[str, Any]:
    """What the configured store holds under ``key`` ({} when it holds nothing)."""
    return dict(session_store(key).load())


def create_session(data: dict[str, Any]) -> str:
    """A session written by hand (as an older package or another process would), its key."""
    store = session_store()
    store.update(data)
    store.save()
    return str(store.session_key)


def start_header_session(http: Http, value: str = "x", **kwargs: Any) -> str:
    """A cookieless client creates a session; returns the key the response header carried.

    It asks for a header session as the protocol says: an empty X-SessionID to start.
    """
    kwargs.setdefault("key", "")
    response = http.get("write", {"value": value}, **kwargs)
    assert response.status_code == 200
    key = response.headers[HEADER]
    assert key
    return key


def login(http: Http, username: str = "alice", **kwargs: Any) -> TestResponse:
    response = http.post("login", {"username": username}, **kwargs)
    assert response.status_code == 200
    return response


def data_of(response: TestResponse) -> dict[str, Any]:
    """The session data a ``read`` view saw."""
    assert response.status_code == 200
    return dict(response.json()["data"])


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
