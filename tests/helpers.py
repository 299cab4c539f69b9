"""What the tests share: clients, session and binding helpers, signal and log capture.

Fixtures live in ``conftest.py``; everything here is plain code that any test module imports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.http import HttpResponse
from django.test import AsyncClient as DjangoAsyncClient
from django.test import Client as DjangoClient
from django.urls import reverse

from restricted_sessions.binding import BINDING_SESSION_KEY, UNBOUND, Binding, parse
from restricted_sessions.signals import session_restricted

if TYPE_CHECKING:
    # What the test clients return: an HttpResponse with .json() and the request attached.
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse
else:
    TestResponse = HttpResponse

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
    127.0.0.1; this sets it per request. And the scope's ``path`` is decoded from UTF-8, as ASGI
    servers (uvicorn, daphne) do, not from latin-1 as AsyncClient does.
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
        scope["path"] = scope["path"].encode("latin1").decode("utf-8", "replace")
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


def in_event_loop() -> bool:
    """Whether the caller runs in an event loop (a sync override must not: it may block)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def make_client(mode: str, **kwargs: Any) -> DjangoClient | DjangoAsyncClient:
    return Client(**kwargs) if mode == "sync" else AsyncClient(**kwargs)


# Sessions ---------------------------------------------------------------------------


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


# Bindings ------------------------------------------------------------------------------------

BINDING_KEY = BINDING_SESSION_KEY
# The keys of 1.0 and 0.4, which sessions written by those versions hold.
IP_KEY = "_restrictedsessions_ip"
IP2_KEY = "_restrictedsessions_ip2"
UA_KEY = "_restrictedsessions_ua"


def bound(data: dict[str, Any]) -> Binding:
    """The binding held by session ``data`` (as from ``stored(key)``); KeyError when none."""
    return parse(data[BINDING_KEY])


def bound_ip(data: dict[str, Any]) -> object:
    """The bound address (its stored form) of session ``data``; None when not bound."""
    ip = bound(data).ip
    return None if ip is UNBOUND else ip


def ua_token(user_agent: str | None) -> str:
    """The stored form of ``user_agent`` under the current settings (``Policy.ua_token``)."""
    from restricted_sessions.conf import get_config

    return get_config().policy.ua_token(user_agent)


def bound_cookie_session(http: Http, value: str = "mine", **kwargs: Any) -> str:
    """A browser creates a session (the response that saves it binds it); returns its key."""
    response = http.get("write", {"value": value}, **kwargs)
    assert response.status_code == 200
    key = http.cookie_key
    assert key
    return key


def kept(response: Any) -> dict[str, Any]:
    """The session data a ``read`` view saw: the request got through with its session."""
    assert response.status_code == 200
    return dict(response.json()["data"])


def assert_restricted(response: Any, key: str, status: int = 400) -> None:
    """The request was refused and its session is gone from the store."""
    assert response.status_code == status
    assert stored(key) == {}


class UnreachableCache(BaseCache):
    """A cache backend whose every read and write fails, as a cache server that is down."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        raise ConnectionError("the cache server is down")

    def set(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> None:
        raise ConnectionError("the cache server is down")

    def add(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> bool:
        raise ConnectionError("the cache server is down")


# Signals and logs ----------------------------------------------------------------------------

Calls = list[dict[str, Any]]


@contextmanager
def connected(receiver: Callable[..., Any]) -> Iterator[None]:
    """``receiver`` connected to ``session_restricted`` for the block only."""
    session_restricted.connect(receiver, weak=False)
    try:
        yield
    finally:
        session_restricted.disconnect(receiver)


@contextmanager
def signal_calls() -> Iterator[Calls]:
    """Every ``session_restricted`` sent in the block, as ``{"sender": ..., **kwargs}``."""
    calls: Calls = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append({"sender": sender, **kwargs})

    with connected(receiver):
        yield calls


def restriction_records(caplog: Any) -> list[logging.LogRecord]:
    """The records of the library's loggers that ``caplog`` (pytest's LogCaptureFixture) holds."""
    return [
        record
        for record in caplog.records
        if record.name == "restricted_sessions" or record.name.startswith("restricted_sessions.")
    ]


class Everything(logging.Handler):
    """Keeps every record of every logger, and all that a formatter could print of it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def output(self) -> str:
        return "\n".join(self.format(record) + "\n" + repr(vars(record)) for record in self.records)

    @property
    def lines(self) -> list[str]:
        """Each record as a formatted log line."""
        return [self.format(record) for record in self.records]

    def restriction_warnings(self) -> list[logging.LogRecord]:
        return [
            record
            for record in self.records
            if record.name == "restricted_sessions" and record.levelno == logging.WARNING
        ]


@contextmanager
def captured_logs() -> Iterator[Everything]:
    """Every record logged in the block, at any level, by any logger."""
    handler = Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
