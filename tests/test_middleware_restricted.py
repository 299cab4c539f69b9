"""restricted_sessions.middleware.RestrictedSessionsMiddleware: binding sessions to IP and User-Agent."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.cache import has_vary_header

from restricted_sessions import enforcement
from restricted_sessions.middleware import RestrictedSessionsMiddleware
from tests.conftest import (
    DEFAULT_IP,
    DEFAULT_UA,
    HEADER,
    Http,
    create_session,
    data_of,
    login,
    session_store,
    start_header_session,
    stored,
)
from tests.restriction_helpers import BINDING_KEY, IP_KEY, UA_KEY, bound, bound_ip

pytestmark = pytest.mark.django_db


def ua_digest(user_agent: str) -> str:
    """The compact stored form of a User-Agent (STORE="raw"), computed here independently."""
    digest = hashlib.sha256(user_agent.encode("utf-8", "surrogatepass")).digest()[:16]
    return "~" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


DJANGO_ONLY_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

NOT_AN_ADDRESS = {
    "garbage": "garbage",
    "empty": "",
    "with-port": "1.2.3.4:5678",
    "bracketed": "[::1]",
    "octet-out-of-range": "999.1.1.1",
    "missing": None,
}


@pytest.fixture
def warnings_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="restricted_sessions")
    return caplog


def restriction_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "restricted_sessions" or record.name.startswith("restricted_sessions.")
    ]


def bound_cookie_session(http: Http, **kwargs: Any) -> str:
    """A browser creates a session (the response that saves it binds it); returns its key."""
    response = http.get("write", {"value": "mine"}, **kwargs)
    assert response.status_code == 200
    key = http.cookie_key
    assert key
    return key


def assert_restricted(response: Any, key: str, status: int = 400) -> None:
    assert response.status_code == status
    assert stored(key) == {}


def sql_writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))
    ]


# Binding --------------------------------------------------------------------------------------


@override_settings()
def test_the_response_that_first_saves_the_session_binds_it(http: Http) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")

    assert bound_ip(stored(key)) == "192.0.2.7"
    assert bound(stored(key)).ua == ua_digest("Browser A")


@override_settings()
def test_the_login_response_binds_the_session(http: Http, alice: object) -> None:
    login(http, ip="192.0.2.7", ua="Browser A")

    assert bound_ip(stored(http.cookie_key)) == "192.0.2.7"  # type: ignore[arg-type]
    assert bound(stored(http.cookie_key)).ua == ua_digest("Browser A")  # type: ignore[arg-type]


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_with_authed_only_the_login_response_binds_the_session(http: Http, alice: object) -> None:
    login(http, ip="192.0.2.7", ua="Browser A")

    assert bound_ip(stored(http.cookie_key)) == "192.0.2.7"  # type: ignore[arg-type]
    assert bound(stored(http.cookie_key)).ua == ua_digest("Browser A")  # type: ignore[arg-type]


@override_settings()
def test_the_request_right_after_login_is_already_checked(http: Http, alice: object) -> None:
    login(http, ip="192.0.2.7")
    key = http.cookie_key
    assert key

    assert_restricted(http.get("whoami", ip="198.51.100.1"), key)


@override_settings()
def test_a_header_session_is_bound_and_checked_too(header_http: Http) -> None:
    key = start_header_session(header_http, ip="192.0.2.7")

    response = header_http.get("read", key=key, ip="198.51.100.1")

    assert_restricted(response, key)
    assert response.headers[HEADER] == ""


@override_settings()
def test_a_session_is_never_created_for_the_binding(http: Http) -> None:
    response = http.get("read")

    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert HEADER not in response.headers
    assert Session.objects.count() == 0


@override_settings()
def test_an_unbound_session_is_not_saved_for_the_binding_but_bound_at_its_next_save(http: Http) -> None:
    key = create_session({"value": "from-before-the-upgrade"})
    http.client.cookies["sessionid"] = key

    with CaptureQueriesContext(connection) as queries:
        response = http.get("read")
    assert data_of(response) == {"value": "from-before-the-upgrade"}
    assert sql_writes(queries) == []
    assert BINDING_KEY not in stored(key)

    http.get("write", {"value": "changed"})
    assert bound_ip(stored(key)) == DEFAULT_IP
    assert bound(stored(key)).ua == ua_digest(DEFAULT_UA)


# Steady state ---------------------------------------------------------------------------------


@override_settings()
def test_a_steady_request_writes_nothing_and_costs_no_extra_sql(http: Http, new_http: Callable[..., Http]) -> None:
    key = bound_cookie_session(http)
    http.get("read")

    with CaptureQueriesContext(connection) as ours:
        response = http.get("read")
    assert data_of(response) == {"value": "mine"}
    assert HEADER not in response.headers
    assert "sessionid" not in response.cookies

    with override_settings(MIDDLEWARE=DJANGO_ONLY_MIDDLEWARE):
        django_client = new_http()
        django_client.client.cookies["sessionid"] = key
        with CaptureQueriesContext(connection) as djangos:
            assert data_of(django_client.get("read")) == {"value": "mine"}

    assert sql_writes(ours) == []
    assert len(ours) == len(djangos)


@override_settings()
def test_a_steady_header_request_writes_nothing_and_costs_no_extra_sql(header_http: Http) -> None:
    key = start_header_session(header_http)

    with CaptureQueriesContext(connection) as queries:
        response = header_http.get("read", key=key)

    assert data_of(response) == {"value": "x"}
    assert HEADER not in response.headers
    assert sql_writes(queries) == []
    assert len(queries) == 1


@override_settings()
def test_a_steady_logged_in_request_writes_nothing(http: Http, alice: object) -> None:
    login(http)

    with CaptureQueriesContext(connection) as queries:
        response = http.get("whoami")

    assert response.json() == {"user": "alice"}
    assert sql_writes(queries) == []


@override_settings()
def test_a_request_without_a_key_is_not_touched(http: Http, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = http.get("untouched")

    assert response.status_code == 200
    assert not has_vary_header(response, "Cookie")
    assert "sessionid" not in response.cookies
    assert HEADER not in response.headers


# Changes --------------------------------------------------------------------------------------


@override_settings()
def test_an_ip_change_flushes_the_session_and_answers_400(
    http: Http, warnings_logged: pytest.LogCaptureFixture
) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7")

    response = http.get("read", ip="198.51.100.1")

    assert_restricted(response, key)
    assert response.content == b""
    assert response.cookies["sessionid"].value == ""
    assert data_of(http.get("read", ip="192.0.2.7")) == {}
    [record] = restriction_records(warnings_logged)
    assert record.levelno == logging.WARNING
    assert "192.0.2.7" in record.getMessage()
    assert "198.51.100.1" in record.getMessage()
    assert key not in warnings_logged.text
    assert key not in repr(record.__dict__)


@override_settings()
def test_a_user_agent_change_flushes_the_session_and_answers_400(
    http: Http, warnings_logged: pytest.LogCaptureFixture
) -> None:
    key = bound_cookie_session(http, ua="Browser A")

    response = http.get("read", ua="Browser B")

    assert_restricted(response, key)
    [record] = restriction_records(warnings_logged)
    assert record.levelno == logging.WARNING
    assert key not in warnings_logged.text
    assert key not in repr(record.__dict__)


@override_settings()
def test_a_replayed_header_key_is_refused_and_the_owner_told_to_drop_it(
    header_http: Http, new_http: Callable[..., Http], warnings_logged: pytest.LogCaptureFixture
) -> None:
    key = start_header_session(header_http, ua="Owner")
    thief = new_http(cookies=False)

    stolen = thief.get("read", key=key, ua="Thief", ip="203.0.113.9")
    owner = header_http.get("read", key=key, ua="Owner")

    assert_restricted(stolen, key)
    assert stolen.headers[HEADER] == ""
    # A key refused once stays refused (issue 10, fault 6), for its owner too.
    assert owner.status_code == 400
    assert owner.headers[HEADER] == ""
    assert key not in warnings_logged.text


@override_settings(RESTRICTEDSESSIONS_FAILURE_STATUS=403)
def test_failure_status_sets_the_status(http: Http) -> None:
    key = bound_cookie_session(http)

    assert_restricted(http.get("read", ip="198.51.100.1"), key, status=403)


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="landing")
def test_redirect_view_redirects_instead(http: Http) -> None:
    key = bound_cookie_session(http)

    response = http.get("read", ip="198.51.100.1")

    assert response.status_code == 302
    assert response["Location"] == "/landing/"
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="no-such-view")
def test_an_unreversible_redirect_view_is_not_a_500_at_request_time(http: Http) -> None:
    key = bound_cookie_session(http)

    response = http.get("read", ip="198.51.100.1")

    assert response.status_code == 400
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_RESTRICT_IP=False)
def test_restrict_ip_off_ignores_ip_changes(http: Http) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    assert data_of(http.get("read", ip="198.51.100.1")) == {"value": "mine"}
    assert data_of(http.get("read", ip="garbage")) == {"value": "mine"}


@override_settings(RESTRICTEDSESSIONS_RESTRICT_UA=False)
def test_restrict_ua_off_ignores_user_agent_changes(http: Http) -> None:
    bound_cookie_session(http, ua="Browser A")

    assert data_of(http.get("read", ua="Browser B")) == {"value": "mine"}
    assert data_of(http.get("read", ua=None)) == {"value": "mine"}


# Address comparison ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "later"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::ffff:ffff"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("192.0.2.7", "::ffff:192.0.2.7"),
        ("192.0.2.7, 198.51.100.1", "192.0.2.7"),
    ],
)
@override_settings()
def test_the_same_client_keeps_its_session(http: Http, bound: str, later: str) -> None:
    bound_cookie_session(http, ip=bound)

    assert data_of(http.get("read", ip=later)) == {"value": "mine"}


@pytest.mark.parametrize(
    ("bound", "later"),
    [
        ("192.0.2.7", "192.0.2.8"),
        ("2001:db8::1", "2001:db8:0:1::1"),
        ("::1", "0.0.0.1"),
        ("0.0.0.1", "::1"),
        ("192.0.2.7", "2001:db8::1"),
        ("2001:db8::1", "192.0.2.7"),
    ],
)
@override_settings()
def test_another_address_is_a_change(http: Http, bound: str, later: str) -> None:
    key = bound_cookie_session(http, ip=bound)

    assert_restricted(http.get("read", ip=later), key)


@override_settings(RESTRICTEDSESSIONS_IPV4_LENGTH=24)
def test_ipv4_length_24_allows_the_same_slash_24(http: Http) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7")

    assert data_of(http.get("read", ip="192.0.2.200")) == {"value": "mine"}
    assert_restricted(http.get("read", ip="192.0.3.7"), key)


@override_settings(RESTRICTEDSESSIONS_IPV6_LENGTH=128)
def test_ipv6_length_128_binds_the_exact_address(http: Http) -> None:
    key = bound_cookie_session(http, ip="2001:db8::1")

    assert_restricted(http.get("read", ip="2001:db8::2"), key)


@override_settings(RESTRICTEDSESSIONS_IPV4_LENGTH=0, RESTRICTEDSESSIONS_IPV6_LENGTH=0)
def test_a_switch_between_ipv4_and_ipv6_is_a_change_even_with_zero_length_prefixes(http: Http) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7")

    assert data_of(http.get("read", ip="203.0.113.1")) == {"value": "mine"}
    assert_restricted(http.get("read", ip="2001:db8::1"), key)


@override_settings(RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_FORWARDED_FOR")
def test_a_comma_separated_address_value_uses_the_first_address(http: Http) -> None:
    response = http.get("write", headers={"X-Forwarded-For": "192.0.2.7, 10.1.1.1"})
    key = http.cookie_key
    assert response.status_code == 200
    assert key
    assert bound_ip(stored(key)) == "192.0.2.7"

    same = http.get("read", headers={"X-Forwarded-For": "192.0.2.7, 172.16.0.1"}, ip="10.9.9.9")
    assert data_of(same) == {"value": "x"}

    assert_restricted(http.get("read", headers={"X-Forwarded-For": "198.51.100.1, 192.0.2.7"}), key)


# Fail closed ----------------------------------------------------------------------------------


@pytest.mark.parametrize("address", NOT_AN_ADDRESS.values(), ids=NOT_AN_ADDRESS.keys())
@override_settings()
def test_a_bound_session_seen_from_something_that_is_not_an_address_is_a_change(
    http: Http, address: str | None
) -> None:
    key = bound_cookie_session(http)

    assert_restricted(http.get("read", ip=address), key)


@pytest.mark.parametrize("address", NOT_AN_ADDRESS.values(), ids=NOT_AN_ADDRESS.keys())
@override_settings(RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_FORWARDED_FOR")
def test_a_forwarded_value_that_is_not_an_address_is_a_change(http: Http, address: str | None) -> None:
    http.get("write", headers={"X-Forwarded-For": "192.0.2.7"})
    key = http.cookie_key
    assert key

    headers = {} if address is None else {"X-Forwarded-For": address}
    assert_restricted(http.get("read", headers=headers), key)


@pytest.mark.parametrize("address", NOT_AN_ADDRESS.values(), ids=NOT_AN_ADDRESS.keys())
@override_settings()
def test_a_session_started_from_something_that_is_not_an_address_is_never_a_500(
    http: Http, alice: object, address: str | None
) -> None:
    assert http.get("write", ip=address).status_code == 200
    assert http.post("login", {"username": "alice"}, ip=address).status_code < 500
    assert http.get("read", ip=address).status_code < 500
    assert http.get("read", ip="192.0.2.7").status_code < 500


@pytest.mark.parametrize("user_agent", [None, ""], ids=["missing", "empty"])
@override_settings()
def test_a_bound_session_without_a_user_agent_is_a_change(http: Http, user_agent: str | None) -> None:
    key = bound_cookie_session(http)

    assert_restricted(http.get("read", ua=user_agent), key)


@override_settings()
def test_non_utf8_user_agent_bytes_are_compared_safely(http: Http, new_http: Callable[..., Http]) -> None:
    # Header bytes arrive latin-1 decoded (WSGI and ASGI alike): b"\xff\xfe\x80" -> "\xff\xfe\x80".
    raw = "Mozilla/5.0 \xff\xfe\x80\xc3("
    key = bound_cookie_session(http, ua=raw)

    assert data_of(http.get("read", ua=raw)) == {"value": "mine"}
    assert_restricted(http.get("read", ua=raw[:-1] + "\xfe"), key)

    other = new_http()
    other_key = bound_cookie_session(other)
    assert_restricted(other.get("read", ua=raw), other_key)


@override_settings()
def test_a_100_kb_user_agent_is_stored_bounded_and_still_compared_exactly(http: Http) -> None:
    huge = "M" * 100_000
    key = bound_cookie_session(http, ua=huge)

    assert bound(stored(key)).ua == ua_digest(huge)
    assert len(Session.objects.get(pk=key).session_data) < 4096
    assert data_of(http.get("read", ua=huge)) == {"value": "mine"}
    assert_restricted(http.get("read", ua=huge[:-1] + "N"), key)


@override_settings()
def test_sending_the_stored_digest_as_user_agent_does_not_match(http: Http) -> None:
    key = bound_cookie_session(http, ua="M" * 100_000)

    assert_restricted(http.get("read", ua=bound(stored(key)).ua), key)


@override_settings()
def test_a_user_agent_that_looks_like_a_digest_is_bound_to_itself_only(http: Http) -> None:
    looks_hashed = "$sha256$" + "0" * 64
    key = bound_cookie_session(http, ua=looks_hashed)

    assert bound(stored(key)).ua != looks_hashed
    assert data_of(http.get("read", ua=looks_hashed)) == {"value": "mine"}
    assert_restricted(http.get("read", ua=bound(stored(key)).ua), key)


# Sessions bound by django-restricted-sessions 0.4 ---------------------------------------------


@override_settings()
def test_a_session_bound_by_django_restricted_sessions_keeps_validating(http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: "192.0.2.7", UA_KEY: "Legacy Browser"})
    http.client.cookies["sessionid"] = key

    assert data_of(http.get("read", ip="192.0.2.7", ua="Legacy Browser")) == {"value": "legacy"}
    assert_restricted(http.get("read", ip="198.51.100.1", ua="Legacy Browser"), key)


@override_settings()
def test_a_legacy_session_is_checked_for_its_user_agent(http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: "192.0.2.7", UA_KEY: "Legacy Browser"})
    http.client.cookies["sessionid"] = key

    assert_restricted(http.get("read", ip="192.0.2.7", ua="Other Browser"), key)


@override_settings()
def test_a_legacy_session_with_a_long_raw_user_agent_keeps_validating(http: Http) -> None:
    long_ua = "Mozilla/5.0 " + "x" * 1000
    key = create_session({"value": "legacy", IP_KEY: "192.0.2.7", UA_KEY: long_ua})
    http.client.cookies["sessionid"] = key

    assert data_of(http.get("read", ip="192.0.2.7", ua=long_ua)) == {"value": "legacy"}
    assert_restricted(http.get("read", ip="192.0.2.7", ua=long_ua + "y"), key)


@override_settings()
def test_a_legacy_session_through_the_header_keeps_validating(header_http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: "192.0.2.7", UA_KEY: "Legacy Browser"})

    assert data_of(header_http.get("read", key=key, ip="192.0.2.7", ua="Legacy Browser")) == {"value": "legacy"}


# AUTHED_ONLY ----------------------------------------------------------------------------------


@pytest.fixture
def logged_out() -> Iterator[list[Any]]:
    calls: list[Any] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs.get("user"))

    user_logged_out.connect(receiver)
    yield calls
    user_logged_out.disconnect(receiver)


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_authed_only_logs_the_user_out_on_a_change(
    http: Http, alice: Any, logged_out: list[Any], warnings_logged: pytest.LogCaptureFixture
) -> None:
    login(http, ip="192.0.2.7")
    key = http.cookie_key
    assert key

    response = http.get("whoami", ip="198.51.100.1")

    assert_restricted(response, key)
    assert [user.pk for user in logged_out] == [alice.pk]
    assert http.get("whoami", ip="192.0.2.7").json() == {"user": None}
    assert restriction_records(warnings_logged)
    assert key not in warnings_logged.text


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_authed_only_ignores_anonymous_sessions(http: Http) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7")

    assert BINDING_KEY not in stored(key)
    assert data_of(http.get("read", ip="198.51.100.1", ua="Other")) == {"value": "mine"}
    assert stored(key)["value"] == "mine"


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_authed_only_checks_header_sessions_of_users(header_http: Http, alice: object) -> None:
    key = login(header_http, key=start_header_session(header_http)).headers[HEADER]

    assert header_http.get("whoami", key=key).json() == {"user": "alice"}
    response = header_http.get("whoami", key=key, ua="Other")
    assert_restricted(response, key)
    assert response.headers[HEADER] == ""


# Refused keys and the cache that remembers them ---------------------------------------------------

UNREACHABLE = {
    "CACHES": {**settings.CACHES, "unreachable": {"BACKEND": "tests.helpers.UnreachableCache"}},
    "RESTRICTEDSESSIONS_CACHE": "unreachable",
}


def test_with_the_cache_down_a_change_still_ends_the_session_and_its_key_is_then_anonymous(
    http: Http, new_http: Callable[..., Http], warnings_logged: pytest.LogCaptureFixture
) -> None:
    with override_settings(**UNREACHABLE):
        key = bound_cookie_session(http)
        thief = new_http()
        thief.client.cookies["sessionid"] = key
        refused = thief.get("read", ua="Thief")
        thief.client.cookies["sessionid"] = key
        again = thief.get("read", ua="Thief")

    assert_restricted(refused, key)
    assert data_of(again) == {}
    assert [record.getMessage() for record in restriction_records(warnings_logged)][-2:] == [
        "RESTRICTEDSESSIONS_CACHE cannot be written: a refused key is not remembered.",
        "RESTRICTEDSESSIONS_CACHE cannot be read: refused keys are not recognised.",
    ]
    assert key not in warnings_logged.text


def test_under_signed_cookies_no_key_is_looked_up_as_refused() -> None:
    """Their binding travels in the cookie and refuses them again; the cache is never asked."""
    from restricted_sessions.conf import get_config

    session = session_store()
    session["value"] = "mine"
    session.save()
    key = str(session.session_key)
    enforcement.remember_refused(session, get_config())
    assert enforcement.was_refused(key, get_config()) is True
    assert async_to_sync(enforcement.awas_refused)(key, get_config()) is True

    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        assert enforcement.was_refused(key, get_config()) is False
        assert async_to_sync(enforcement.awas_refused)(key, get_config()) is False


def test_a_session_without_a_key_is_not_examined() -> None:
    from restricted_sessions.conf import get_config

    request = RequestFactory().get("/")

    assert enforcement.examine(request, session_store(), get_config()) is None
    assert async_to_sync(enforcement.aexamine)(request, session_store(), get_config()) is None


# Without a session, or without AuthenticationMiddleware ------------------------------------------


def test_a_request_without_a_session_passes_through_untouched() -> None:
    answer = HttpResponse("view")
    request = RequestFactory().get("/")

    assert RestrictedSessionsMiddleware(lambda request: answer)(request) is answer
    assert not hasattr(request, "session")


def test_an_async_request_without_a_session_passes_through_untouched() -> None:
    answer = HttpResponse("view")

    async def respond(request: HttpRequest) -> HttpResponse:
        return answer

    request = RequestFactory().get("/")

    assert async_to_sync(RestrictedSessionsMiddleware(respond))(request) is answer
    assert not hasattr(request, "session")


WITHOUT_AUTHENTICATION_MIDDLEWARE = [
    path for path in settings.MIDDLEWARE if path != "django.contrib.auth.middleware.AuthenticationMiddleware"
]


@override_settings(MIDDLEWARE=WITHOUT_AUTHENTICATION_MIDDLEWARE)
def test_without_authentication_middleware_a_change_still_logs_the_user_out(
    http: Http, alice: Any, logged_out: list[Any]
) -> None:
    login(http)
    key = http.cookie_key
    assert key

    response = http.get("read", ua="Thief")

    assert_restricted(response, key)
    assert len(logged_out) == 1


@override_settings(MIDDLEWARE=WITHOUT_AUTHENTICATION_MIDDLEWARE)
def test_without_authentication_middleware_logout_receivers_hear_who_was_logged_out(
    http: Http, alice: Any, logged_out: list[Any]
) -> None:
    # Django's logout() reads request.user, alogout() request.auser(): both must name the user.
    login(http)

    http.get("read", ua="Thief")

    assert [getattr(user, "pk", None) for user in logged_out] == [alice.pk]


def test_a_login_on_the_redirect_view_with_a_refused_key_binds_the_new_session(
    header_http: Http, alice: object, settings: Any
) -> None:
    # A refused key may still reach REDIRECT_VIEW (no redirect loop); a login there starts a new
    # session, which must be bound like any other (it was saved unbound).
    settings.RESTRICTEDSESSIONS_REDIRECT_VIEW = f"{header_http.mode}:login"
    first = login(header_http, ip="192.0.2.7", ua="Browser A", key="").headers[HEADER]
    assert header_http.get("whoami", ip="198.51.100.9", ua="Browser A", key=first).status_code == 302

    again = login(header_http, ip="192.0.2.7", ua="Browser A", key=first)

    new = again.headers[HEADER]
    assert new
    assert new != first
    assert bound_ip(stored(new)) == "192.0.2.7"
    assert bound(stored(new)).ua == ua_digest("Browser A")
    assert header_http.get("whoami", ip="192.0.2.7", ua="Browser A", key=new).json() == {"user": "alice"}
    assert header_http.get("whoami", ip="198.51.100.9", ua="Browser A", key=new).status_code == 302
