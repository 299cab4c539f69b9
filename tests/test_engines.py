"""The core behaviour on every Django session engine, sync and async."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from restricted_sessions.binding import Binding
from tests.helpers import HEADER, Http, bound, data_of, login, session_store, start_header_session, stored, ua_token

pytestmark = pytest.mark.django_db

ENGINES = ["db", "cache-locmem", "cache-redis", "cached_db", "file", "signed_cookies"]
SIGNED = "signed_cookies"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Run the test with SESSION_ENGINE (and its cache or directory) set up for one engine."""
    name = str(request.param)
    overrides: dict[str, Any] = {}
    if name == "db":
        overrides["SESSION_ENGINE"] = "django.contrib.sessions.backends.db"
    elif name == "cache-locmem":
        overrides["SESSION_ENGINE"] = "django.contrib.sessions.backends.cache"
    elif name == "cache-redis":
        redis_url = request.getfixturevalue("redis_url")
        overrides["SESSION_ENGINE"] = "django.contrib.sessions.backends.cache"
        overrides["CACHES"] = {
            **settings.CACHES,
            "sessions": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url},
        }
        overrides["SESSION_CACHE_ALIAS"] = "sessions"
    elif name == "cached_db":
        overrides["SESSION_ENGINE"] = "django.contrib.sessions.backends.cached_db"
    elif name == "file":
        overrides["SESSION_ENGINE"] = "django.contrib.sessions.backends.file"
        overrides["SESSION_FILE_PATH"] = str(tmp_path)
    else:
        overrides["SESSION_ENGINE"] = "django.contrib.sessions.backends.signed_cookies"
    with override_settings(**overrides):
        yield name
        if name == "cache-redis":
            from django.core.cache import caches

            caches["sessions"].clear()


@pytest.fixture
def saves(engine: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every session save (sync or async) of the engine's SessionStore during the test."""
    store_class = type(session_store())
    calls: list[str] = []
    original_save = store_class.save
    original_asave = store_class.asave

    def save(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("save")
        return original_save(self, *args, **kwargs)

    async def asave(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("asave")
        return await original_asave(self, *args, **kwargs)

    monkeypatch.setattr(store_class, "save", save)
    monkeypatch.setattr(store_class, "asave", asave)
    return calls


def test_a_cookieless_client_starts_and_keeps_a_header_session(engine: str, header_http: Http) -> None:
    response = header_http.get("write", {"value": "hello"}, key="")
    key = response.headers[HEADER]

    assert key
    # Only the header: a key in a header is never also set as a cookie, and the reverse.
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert data_of(header_http.get("read", key=key)) == {"value": "hello"}


def test_a_cookie_client_keeps_a_cookie_session_without_the_header(engine: str, http: Http) -> None:
    http.get("write", {"value": "hello"})
    response = http.get("read")

    assert data_of(response) == {"value": "hello"}
    assert HEADER not in response.headers


def test_the_header_wins_over_the_cookie(engine: str, http: Http, header_http: Http) -> None:
    http.get("write", {"value": "from-cookie"})
    key = start_header_session(header_http, "from-header")

    assert data_of(http.get("read", key=key)) == {"value": "from-header"}


def test_a_saved_header_session_returns_its_current_key(engine: str, header_http: Http) -> None:
    key = start_header_session(header_http, "one")

    response = header_http.get("write", {"value": "two"}, key=key)
    new_key = response.headers[HEADER]

    assert new_key
    if engine != SIGNED:
        assert new_key == key
    assert data_of(header_http.get("read", key=new_key)) == {"value": "two"}


def test_login_and_logout_through_the_header(engine: str, header_http: Http, alice: object) -> None:
    key = start_header_session(header_http)

    new_key = login(header_http, key=key).headers[HEADER]
    assert new_key
    assert new_key != key
    assert header_http.get("whoami", key=new_key).json() == {"user": "alice"}

    response = header_http.post("logout", key=new_key)
    assert response.headers[HEADER] == ""
    if engine != SIGNED:
        # A signed cookie cannot be revoked by the server; every other store forgets the key.
        assert stored(new_key) == {}
        assert header_http.get("whoami", key=new_key).json() == {"user": None}


@pytest.mark.parametrize(
    "value",
    ["", "a" * 100_000, "<junk> ../../etc/passwd", "abcdefghijklmnopqrstuvwxyz012345", "x:y:z" * 10],
    ids=["empty", "oversized", "junk", "made-up", "fake-signed"],
)
def test_a_bad_header_value_gets_a_fresh_server_key(engine: str, header_http: Http, value: str) -> None:
    response = header_http.get("write", {"value": "fresh"}, key=value)

    assert response.status_code == 200
    key = response.headers[HEADER]
    assert key
    assert key != value
    assert data_of(header_http.get("read", key=key)) == {"value": "fresh"}


def test_a_replayed_key_from_another_client_is_refused(
    engine: str, header_http: Http, new_http: Callable[..., Http]
) -> None:
    key = start_header_session(header_http, "secret")
    thief = new_http(cookies=False)

    response = thief.get("read", key=key, ip="203.0.113.9", ua="Thief")

    assert response.status_code == 400
    assert response.headers[HEADER] == ""
    if engine != SIGNED:
        assert stored(key) == {}
    assert b"secret" not in thief.get("read", key=key, ip="203.0.113.9", ua="Thief").content


def test_a_replayed_cookie_from_another_client_is_refused(
    engine: str, http: Http, new_http: Callable[..., Http]
) -> None:
    http.get("write", {"value": "secret"})
    thief = new_http()
    thief.client.cookies[settings.SESSION_COOKIE_NAME] = http.cookie_key  # type: ignore[assignment]

    response = thief.get("read", ua="Thief")

    assert response.status_code == 400
    assert b"secret" not in response.content


def test_the_steady_state_saves_nothing(engine: str, header_http: Http, http: Http, saves: list[str]) -> None:
    key = start_header_session(header_http)
    http.get("write")
    saves.clear()

    header_response = header_http.get("read", key=key)
    cookie_response = http.get("read")

    assert data_of(header_response) == {"value": "x"}
    assert data_of(cookie_response) == {"value": "x"}
    assert saves == []
    assert HEADER not in header_response.headers
    assert settings.SESSION_COOKIE_NAME not in cookie_response.cookies


def test_a_request_without_a_key_creates_and_saves_nothing(engine: str, http: Http, saves: list[str]) -> None:
    response = http.get("untouched")

    assert saves == []
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert HEADER not in response.headers


def test_the_binding_is_stored_with_the_session(engine: str, header_http: Http) -> None:
    key = start_header_session(header_http, ip="192.0.2.7", ua="Browser A")

    assert bound(stored(key)) == Binding(ip="192.0.2.7", ua=ua_token("Browser A"))
    assert bound(stored(key)).encode() == "1|192.0.2.7||" + ua_token("Browser A")


def test_a_100_kb_user_agent_keeps_the_session_small(engine: str, http: Http) -> None:
    huge = "M" * 100_000

    response = http.get("write", ua=huge)

    assert response.status_code == 200
    assert HEADER not in response.headers
    assert len(response.cookies[settings.SESSION_COOKIE_NAME].value) < 4096
    assert data_of(http.get("read", ua=huge)) == {"value": "x"}
    assert http.get("read", ua=huge[:-1] + "N").status_code == 400


# No session is ever created only to hold a binding ---------------------------------------------

MADE_UP_KEY = "abcdefghijklmnopqrstuvwxyz012345"


def _gone_key(engine: str, header_http: Http, monkeypatch: pytest.MonkeyPatch) -> str:
    """A key that named a session once: expired (signed_cookies) or deleted (server-side stores)."""
    if engine == SIGNED:
        with monkeypatch.context() as patch:
            long_ago = time.time() - 10 * settings.SESSION_COOKIE_AGE
            patch.setattr(time, "time", lambda: long_ago)
            key = start_header_session(header_http, "old")
        assert session_store(key).load() == {}
        return key
    key = start_header_session(header_http, "old")
    session_store(key).delete()
    return key


@pytest.mark.parametrize("value", ["forged", "gone", "empty"])
@pytest.mark.parametrize("save_every_request", [False, True], ids=["", "save-every-request"])
def test_a_header_key_that_names_no_session_saves_nothing_and_is_told_to_drop_it(
    engine: str,
    header_http: Http,
    saves: list[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    save_every_request: bool,
) -> None:
    known = {"forged": MADE_UP_KEY, "empty": ""}
    key = known[value] if value in known else _gone_key(engine, header_http, monkeypatch)
    saves.clear()

    with override_settings(SESSION_SAVE_EVERY_REQUEST=save_every_request):
        response = header_http.get("untouched", key=key, ip="203.0.113.9", ua="Thief")

    assert response.status_code == 200
    assert saves == []
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    # An empty header asked for a session that never started: there is nothing to drop.
    assert response.headers.get(HEADER) == (None if value == "empty" else "")


@pytest.mark.parametrize("save_every_request", [False, True], ids=["", "save-every-request"])
def test_a_cookie_that_names_no_session_saves_nothing(
    engine: str, http: Http, saves: list[str], save_every_request: bool
) -> None:
    http.client.cookies[settings.SESSION_COOKIE_NAME] = MADE_UP_KEY

    with override_settings(SESSION_SAVE_EVERY_REQUEST=save_every_request):
        response = http.get("untouched")

    assert response.status_code == 200
    assert saves == []
    assert HEADER not in response.headers
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""
