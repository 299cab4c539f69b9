"""restricted_sessions.middleware.SessionMiddleware: the header-session protocol."""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.cache import SessionStore as CACHE_STORE
from django.contrib.sessions.backends.db import SessionStore as DB_STORE
from django.contrib.sessions.backends.signed_cookies import SessionStore as SIGNED_STORE
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.utils import timezone
from django.utils.cache import get_cache_key, has_vary_header
from pytest_django.fixtures import Settings as SettingsWrapper

from restricted_sessions.binding import Binding
from restricted_sessions.keys import key_validator, meta_key
from restricted_sessions.middleware import SessionMiddleware
from tests import settings as test_settings
from tests import views
from tests.helpers import (
    BINDING_KEY,
    DEFAULT_IP,
    DEFAULT_UA,
    HEADER,
    Http,
    create_session,
    data_of,
    in_event_loop,
    login,
    start_header_session,
    stored,
    ua_token,
)

pytestmark = pytest.mark.django_db

CACHED_MIDDLEWARE = [
    "django.middleware.cache.UpdateCacheMiddleware",
    *test_settings.MIDDLEWARE,
    "django.middleware.cache.FetchFromCacheMiddleware",
]

BAD_HEADER_VALUES = {
    "empty": "",
    "blank": "   ",
    "made-up-well-formed": "abcdefghijklmnopqrstuvwxyz012345",
    "oversized": "a" * 100_000,
    "junk": "<script>alert(1)</script>",
    "path": "../../../../etc/passwd",
    "non-ascii": "cl\xe9\xff\xfe-session",
    "list": "abcdefghijklmnopqrstuvwxyz012345, abcdefghijklmnopqrstuvwxyz543210",
    "sql": "' OR 1=1 --",
}


def cache_control(response: object) -> set[str]:
    value = response.headers.get("Cache-Control", "")  # type: ignore[attr-defined]
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def test_is_a_subclass_of_djangos_session_middleware() -> None:
    assert issubclass(SessionMiddleware, DjangoSessionMiddleware)


# Starting a session ---------------------------------------------------------------------------


def test_a_client_without_cookie_or_header_gets_only_the_cookie_when_a_session_is_created(http: Http) -> None:
    response = http.get("write", {"value": "hello"})

    key = http.cookie_key
    assert key
    assert stored(key)["value"] == "hello"
    assert HEADER not in response.headers
    assert response.cookies["sessionid"]["httponly"] is True


def test_a_header_client_keeps_its_session_through_the_header(header_http: Http) -> None:
    key = start_header_session(header_http, "hello")

    response = header_http.get("read", key=key)

    assert data_of(response) == {"value": "hello"}


def test_a_request_that_does_not_create_a_session_gets_no_key(http: Http) -> None:
    response = http.get("read")

    assert HEADER not in response.headers
    assert "sessionid" not in response.cookies
    assert Session.objects.count() == 0


# Header and cookie ----------------------------------------------------------------------------


def test_the_header_wins_over_the_cookie(http: Http, header_http: Http) -> None:
    http.get("write", {"value": "from-cookie"})
    header_key = start_header_session(header_http, "from-header")

    response = http.get("read", key=header_key)

    assert data_of(response) == {"value": "from-header"}


def test_csrf_exempt_is_true_for_a_header_session(header_http: Http) -> None:
    key = start_header_session(header_http)

    assert header_http.get("flag", key=key).json() == {"csrf_exempt": True}


def test_csrf_exempt_is_false_for_a_cookie_session(http: Http) -> None:
    http.get("write")

    assert http.get("flag").json() == {"csrf_exempt": False}


def test_csrf_exempt_is_false_without_any_key(http: Http) -> None:
    assert http.get("flag").json() == {"csrf_exempt": False}


def test_a_header_session_wins_even_when_the_cookie_names_another_live_session(http: Http, header_http: Http) -> None:
    http.get("write", {"value": "from-cookie"})
    cookie_key = http.cookie_key
    header_key = start_header_session(header_http, "from-header")

    response = http.get("write", {"value": "changed"}, key=header_key)

    assert response.headers[HEADER] == header_key
    assert stored(header_key)["value"] == "changed"
    assert stored(cookie_key)["value"] == "from-cookie"  # type: ignore[arg-type]


# Bad header values ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_HEADER_VALUES.values(), ids=BAD_HEADER_VALUES.keys())
def test_a_bad_or_unknown_header_value_gets_a_fresh_server_key_never_its_own(header_http: Http, value: str) -> None:
    response = header_http.get("write", {"value": "new"}, key=value)

    assert response.status_code == 200
    key = response.headers[HEADER]
    assert key
    assert key != value
    assert key.strip() != value.strip()
    assert stored(key) == {"value": "new", BINDING_KEY: Binding(ip=DEFAULT_IP, ua=ua_token(DEFAULT_UA)).encode()}


@pytest.mark.parametrize(
    "value",
    [value for value in BAD_HEADER_VALUES.values() if value.strip()],
    ids=[name for name, value in BAD_HEADER_VALUES.items() if value.strip()],
)
def test_a_bad_or_unknown_header_value_reads_an_empty_session_and_is_told_to_drop_it(
    header_http: Http, value: str
) -> None:
    response = header_http.get("read", key=value)

    assert data_of(response) == {}
    assert response.headers[HEADER] == ""


def test_a_header_value_naming_no_session_cannot_be_fixed_by_login(header_http: Http, alice: object) -> None:
    chosen = "abcdefghijklmnopqrstuvwxyz012345"

    response = login(header_http, key=chosen)

    assert response.headers[HEADER] not in ("", chosen)
    assert stored(chosen) == {}


# Which header values may reach a session store (restricted_sessions.keys) ------------------------

LOWER_AND_DIGITS = string.ascii_lowercase + string.digits


@pytest.mark.parametrize("store", [DB_STORE, CACHE_STORE])
def test_a_store_key_is_8_to_40_of_djangos_key_characters(store: type[Any]) -> None:
    accepts = key_validator(store)

    assert accepts(store()._get_new_session_key())
    assert [accepts("a" * length) for length in (0, 7, 8, 40, 41)] == [False, False, True, True, False]
    assert accepts(LOWER_AND_DIGITS[:36])
    for character in "A-_.:/=+ \x00\n\u00e9":
        assert not accepts("abcdefgh" + character), character


def test_a_signed_cookie_key_is_8_to_4096_url_safe_characters() -> None:
    accepts = key_validator(SIGNED_STORE)

    assert [accepts("a" * length) for length in (0, 7, 8, 4096, 4097)] == [False, False, True, True, False]
    assert accepts(string.ascii_letters + string.digits + "_-:.")
    for character in "/=+ \x00\n\u00e9":
        assert not accepts("abcdefgh" + character), character


def test_a_subclass_of_the_signed_cookie_store_gets_the_signed_cookie_rule() -> None:
    class Store(SIGNED_STORE):
        pass

    assert key_validator(Store)("A" * 100 + ":" + "b" * 27)
    assert not key_validator(DB_STORE)("A" * 100 + ":" + "b" * 27)


def test_a_header_name_becomes_its_meta_key() -> None:
    assert meta_key("X-SessionID") == "HTTP_X_SESSIONID"
    assert meta_key("x-my-session-id") == "HTTP_X_MY_SESSION_ID"


# Response header ------------------------------------------------------------------------------


def test_a_saved_header_session_gets_its_key_back(header_http: Http) -> None:
    key = start_header_session(header_http)

    response = header_http.get("write", {"value": "again"}, key=key)

    assert response.headers[HEADER] == key
    assert {"private", "no-store"} <= cache_control(response)
    assert "sessionid" not in response.cookies


def test_login_through_the_header_returns_the_cycled_key(header_http: Http, alice: object) -> None:
    key = start_header_session(header_http)

    response = login(header_http, key=key)

    new_key = response.headers[HEADER]
    assert new_key
    assert new_key != key
    assert stored(key) == {}
    assert "_auth_user_id" in stored(new_key)
    assert {"private", "no-store"} <= cache_control(response)
    assert header_http.get("whoami", key=new_key).json() == {"user": "alice"}


def test_an_ended_header_session_gets_an_empty_header(header_http: Http, alice: object) -> None:
    key = login(header_http, key=start_header_session(header_http)).headers[HEADER]

    response = header_http.post("logout", key=key)

    assert response.status_code == 200
    assert response.headers[HEADER] == ""
    assert stored(key) == {}


def test_a_cookie_session_never_gets_its_key_in_a_header(http: Http, alice: object) -> None:
    http.get("write")

    written = http.get("write", {"value": "again"})
    logged_in = login(http)
    read = http.get("read")

    assert http.cookie_key
    for response in (written, logged_in, read):
        assert HEADER not in response.headers


def test_an_accessed_session_varies_on_cookie_and_the_header(http: Http, header_http: Http) -> None:
    http.get("write")
    key = start_header_session(header_http)

    for response in (http.get("read"), header_http.get("read", key=key)):
        assert has_vary_header(response, "Cookie")
        assert has_vary_header(response, HEADER)


@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_save_every_request_saves_and_returns_the_key_of_an_unmodified_header_session(
    header_http: Http,
) -> None:
    key = start_header_session(header_http)
    soon = timezone.now() + timedelta(minutes=1)
    Session.objects.filter(pk=key).update(expire_date=soon)

    response = header_http.get("read", key=key)

    assert response.headers[HEADER] == key
    assert Session.objects.get(pk=key).expire_date > soon + timedelta(days=1)


@override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True)
def test_expire_at_browser_close_makes_the_cookie_a_browser_session_cookie(http: Http) -> None:
    response = http.get("write")

    assert response.cookies["sessionid"]["max-age"] == ""
    assert response.cookies["sessionid"]["expires"] == ""
    assert HEADER not in response.headers


@override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False)
def test_without_expire_at_browser_close_the_cookie_has_a_max_age(http: Http) -> None:
    response = http.get("write")

    assert int(response.cookies["sessionid"]["max-age"]) > 0


def test_a_5xx_response_saves_nothing(header_http: Http) -> None:
    key = start_header_session(header_http, "before")
    header_http.client.raise_request_exception = False

    response = header_http.get("error", key=key)

    assert response.status_code == 500
    assert response.headers.get(HEADER, "") in ("", key)
    assert stored(key)["value"] == "before"


def test_a_5xx_response_creates_no_session(http: Http) -> None:
    http.client.raise_request_exception = False

    response = http.get("error")

    assert response.status_code == 500
    assert not response.headers.get(HEADER)
    assert "sessionid" not in response.cookies
    assert Session.objects.count() == 0


# Settings -------------------------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=None)
def test_session_header_none_turns_header_sessions_off(http: Http, new_http: Callable[..., Http]) -> None:
    other = new_http()
    other.get("write", {"value": "someone-else"})
    other_key = other.cookie_key

    response = http.get("write", {"value": "mine"}, key=other_key)

    assert HEADER not in response.headers
    assert response.cookies["sessionid"].value != other_key
    assert stored(other_key)["value"] == "someone-else"  # type: ignore[arg-type]
    assert http.get("flag", key=other_key).json() == {"csrf_exempt": False}
    assert not has_vary_header(http.get("read"), HEADER)


@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER="X-App-Session")
def test_a_custom_header_name_carries_the_session(header_http: Http) -> None:
    start = header_http.get("write", {"value": "custom"}, headers={"X-App-Session": ""})
    key = start.headers["X-App-Session"]
    assert HEADER not in start.headers

    response = header_http.get("read", headers={"X-App-Session": key})
    ignored = header_http.get("read", key=key)

    assert data_of(response) == {"value": "custom"}
    assert has_vary_header(response, "X-App-Session")
    assert data_of(ignored) == {}


# Shared caches in front -----------------------------------------------------------------------


@override_settings(MIDDLEWARE=CACHED_MIDDLEWARE, CACHE_MIDDLEWARE_SECONDS=600)
def test_djangos_cache_middleware_never_hands_a_new_key_to_another_client(
    new_http: Callable[..., Http],
) -> None:
    first = new_http(cookies=False).get("write", {"value": "first"}, key="")
    second = new_http(cookies=False).get("write", {"value": "first"}, key="")

    assert first.headers[HEADER]
    assert second.headers[HEADER]
    assert second.headers[HEADER] != first.headers[HEADER]


@override_settings(MIDDLEWARE=CACHED_MIDDLEWARE, CACHE_MIDDLEWARE_SECONDS=600)
def test_djangos_cache_middleware_never_hands_a_header_users_page_to_another(
    new_http: Callable[..., Http],
) -> None:
    alice = new_http(cookies=False)
    bob = new_http(cookies=False)
    alice_key = start_header_session(alice, "alice-secret")
    bob_key = start_header_session(bob, "bob")

    assert data_of(alice.get("read", key=alice_key)) == {"value": "alice-secret"}
    anonymous = new_http(cookies=False).get("read")
    as_bob = bob.get("read", key=bob_key)

    assert data_of(anonymous) == {}
    assert data_of(as_bob) == {"value": "bob"}


@override_settings(MIDDLEWARE=CACHED_MIDDLEWARE, CACHE_MIDDLEWARE_SECONDS=600)
def test_djangos_cache_middleware_never_replays_a_saved_header_response(
    new_http: Callable[..., Http],
) -> None:
    alice = new_http(cookies=False)
    bob = new_http(cookies=False)
    alice_key = start_header_session(alice, "alice")
    bob_key = create_session({"value": "bob"})

    alice.get("write", {"value": "alice"}, key=alice_key)
    response = bob.get("write", {"value": "alice"}, key=bob_key)

    assert response.headers[HEADER] == bob_key


# The key reaches a header only for a client that asked for one (HttpOnly) ----------------------

CSRF_COOKIE = "Zq3cRkT1bFvN8wXy0aB2cD4eF6gH8iJ9"
SOME_KEY = "abcdefghijklmnopqrstuvwxyz012345"


def _headers_without_cookies(response: object) -> str:
    return "\n".join(f"{name}: {value}" for name, value in response.items())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "first_request",
    ["write", "login-with-a-csrf-cookie", "login-again", "stale-cookie", "save-every-request"],
)
def test_a_client_that_never_sent_the_header_gets_its_key_only_in_an_httponly_cookie(
    http: Http, alice: object, settings: SettingsWrapper, first_request: str
) -> None:
    if first_request == "write":
        response = http.get("write")
    elif first_request == "login-with-a-csrf-cookie":
        http.client.cookies["csrftoken"] = CSRF_COOKIE
        response = login(http, headers={"X-CSRFToken": CSRF_COOKIE})
    elif first_request == "login-again":
        login(http)
        response = login(http)
    elif first_request == "stale-cookie":
        http.client.cookies["sessionid"] = SOME_KEY
        response = http.get("write")
    else:
        settings.SESSION_SAVE_EVERY_REQUEST = True
        http.get("write")
        response = http.get("read")

    key = response.cookies["sessionid"].value
    assert key
    assert key != SOME_KEY
    assert response.cookies["sessionid"]["httponly"] is True
    assert HEADER not in response.headers
    assert key not in _headers_without_cookies(response)


@pytest.mark.parametrize("first_request", ["write", "login"])
def test_a_client_that_sent_the_empty_header_gets_its_key_only_in_the_header(
    header_http: Http, alice: object, first_request: str
) -> None:
    header_http.client.cookies["csrftoken"] = CSRF_COOKIE
    response = header_http.get("write", key="") if first_request == "write" else login(header_http, key="")

    key = response.headers[HEADER]
    assert key
    assert stored(key)
    assert "sessionid" not in response.cookies


# Conditional GET never eats a key (ConditionalGetMiddleware above the session middleware) ------

CONDITIONAL_MIDDLEWARE = ["django.middleware.http.ConditionalGetMiddleware", *test_settings.MIDDLEWARE]
CONDITIONS = {"etag": {"If-None-Match": views.ETAG}, "date": {"If-Modified-Since": views.LAST_MODIFIED}}


@pytest.mark.parametrize("condition", CONDITIONS.values(), ids=CONDITIONS.keys())
@pytest.mark.parametrize("action", ["cycle", "write"])
@override_settings(MIDDLEWARE=CONDITIONAL_MIDDLEWARE)
def test_a_conditional_request_that_saves_a_header_session_gets_200_with_the_key(
    header_http: Http, condition: dict[str, str], action: str
) -> None:
    key = start_header_session(header_http)

    response = header_http.get("conditional", {"do": action}, key=key, headers=condition)

    assert response.status_code == 200
    new_key = response.headers[HEADER]
    assert new_key
    assert (new_key != key) is (action == "cycle")
    assert stored(new_key)["value"] == ("conditional" if action == "write" else "x")
    assert "ETag" not in response.headers
    assert "Last-Modified" not in response.headers


@pytest.mark.parametrize("condition", CONDITIONS.values(), ids=CONDITIONS.keys())
@override_settings(MIDDLEWARE=CONDITIONAL_MIDDLEWARE)
def test_a_conditional_request_that_ends_a_header_session_gets_200_with_the_empty_header(
    header_http: Http, condition: dict[str, str]
) -> None:
    key = start_header_session(header_http)

    response = header_http.get("conditional", {"do": "flush"}, key=key, headers=condition)

    assert response.status_code == 200
    assert response.headers[HEADER] == ""
    assert stored(key) == {}


@pytest.mark.parametrize("condition", CONDITIONS.values(), ids=CONDITIONS.keys())
@override_settings(MIDDLEWARE=CONDITIONAL_MIDDLEWARE)
def test_a_conditional_request_that_sends_no_key_is_still_a_304(header_http: Http, condition: dict[str, str]) -> None:
    key = start_header_session(header_http)

    response = header_http.get("conditional", key=key, headers=condition)

    assert response.status_code == 304
    assert HEADER not in response.headers


# A session deleted while the request ran: Django's 400, and the "session ended" signal ---------


def test_a_header_session_deleted_during_the_request_is_a_400_with_the_empty_header(header_http: Http) -> None:
    key = start_header_session(header_http)
    header_http.client.raise_request_exception = False

    response = header_http.get("interrupted", key=key)

    assert response.status_code == 400
    assert response.headers[HEADER] == ""
    assert {"private", "no-store"} <= cache_control(response)
    assert stored(key) == {}


def test_a_cookie_session_deleted_during_the_request_is_a_400_without_the_header(http: Http) -> None:
    http.get("write")
    key = http.cookie_key
    http.client.raise_request_exception = False

    response = http.get("interrupted")

    assert response.status_code == 400
    assert HEADER not in response.headers
    assert stored(key) == {}  # type: ignore[arg-type]


# A refused key never reads a page cached for it (Django's per-site cache, documented order) -----


def _cached(response: Any) -> bool:
    """True when Django's cache middleware stored a page for the request of ``response``."""
    request = getattr(response, "wsgi_request", None) or response.asgi_request
    cache_key = get_cache_key(request, method="GET")
    return cache_key is not None and caches["default"].get(cache_key) is not None


@pytest.mark.parametrize("engine", ["db", "signed_cookies"])
@pytest.mark.parametrize("via", ["cookie", "header"])
def test_a_thief_replaying_a_refused_key_is_refused_again_never_served_the_victims_cached_page(
    new_http: Callable[..., Http], engine: str, via: str
) -> None:
    with override_settings(
        MIDDLEWARE=CACHED_MIDDLEWARE,
        CACHE_MIDDLEWARE_SECONDS=600,
        SESSION_ENGINE=f"django.contrib.sessions.backends.{engine}",
    ):
        _replay_against_the_per_site_cache(new_http, via)


def _replay_against_the_per_site_cache(new_http: Callable[..., Http], via: str) -> None:
    victim, thief = new_http(), new_http()
    if via == "cookie":
        victim.get("write", {"value": "victim-secret"})
        key = victim.cookie_key
        assert key
    else:
        key = start_header_session(victim, "victim-secret")
    page = victim.get("read", key=None if via == "cookie" else key)
    assert data_of(page) == {"value": "victim-secret"}
    assert _cached(page)

    answers = []
    for _ in range(3):
        if via == "cookie":
            thief.client.cookies["sessionid"] = key
        answers.append(thief.get("read", ua="Thief", key=None if via == "cookie" else key))

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert all(b"victim-secret" not in answer.content for answer in answers)


# A response whose request holds no session (another middleware removed it) -----------------------


def test_a_response_to_a_request_without_a_session_is_passed_on_unchanged() -> None:
    middleware = SessionMiddleware(lambda request: HttpResponse())
    answer = HttpResponse("view")

    assert middleware.process_response(RequestFactory().get("/"), answer) is answer
    assert not answer.cookies
    assert not answer.has_header("Vary")


def test_an_async_response_to_a_request_without_a_session_is_passed_on_unchanged() -> None:
    async def respond(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    middleware = SessionMiddleware(respond)
    answer = HttpResponse("view")

    assert async_to_sync(middleware.aprocess_response)(RequestFactory().get("/"), answer) is answer
    assert not answer.cookies
    assert not answer.has_header("Vary")


# A subclass's process_request may answer instead of the view, as under MiddlewareMixin ------------


class MaintenanceSessionMiddleware(SessionMiddleware):
    """Answers 503 for ``/maintenance`` before any view runs; marks every response it passes on.

    Both phases are sync overrides that may block (a database query, say), so under ASGI they
    must run in a thread, as Django's MiddlewareMixin runs them.
    """

    in_event_loop: list[bool] = []

    def process_request(self, request: HttpRequest) -> HttpResponse | None:  # type: ignore[override]
        self.in_event_loop.append(in_event_loop())
        super().process_request(request)
        return HttpResponse(status=503) if request.path == "/maintenance" else None

    def process_response(self, request: HttpRequest, response: Any) -> Any:
        self.in_event_loop.append(in_event_loop())
        response["X-Maintenance-Checked"] = "1"
        return super().process_response(request, response)


def test_a_subclass_answering_in_process_request_is_honoured_sync_and_async() -> None:
    views_called: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        views_called.append(request.path)
        return HttpResponse()

    async def aview(request: HttpRequest) -> HttpResponse:
        return view(request)

    MaintenanceSessionMiddleware.in_event_loop.clear()
    sync_middleware, async_middleware = MaintenanceSessionMiddleware(view), MaintenanceSessionMiddleware(aview)
    for path, status in (("/maintenance", 503), ("/", 200)):
        for response in (
            sync_middleware(RequestFactory().get(path)),
            async_to_sync(async_middleware.__acall__)(RequestFactory().get(path)),
        ):
            assert response.status_code == status
            assert response["X-Maintenance-Checked"] == "1"
    assert views_called == ["/", "/"]
    # Never in the event loop: a sync override may block.
    assert MaintenanceSessionMiddleware.in_event_loop == [False] * 8
