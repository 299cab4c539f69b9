"""RESTRICTEDSESSIONS_FAILURE_HANDLER: a callable ``(request, reason) -> HttpResponse`` builds the failure response.

Sync or async, it takes precedence over REDIRECT_VIEW and FAILURE_STATUS (for example JSON for an
API). The session is flushed before it runs. And whatever the failure response, a redirect never
loops: its target is reachable after the flush.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import reverse

from restricted_sessions.middleware import RestrictedSessionsMiddleware
from tests.helpers import HEADER, Http, assert_restricted, bound_cookie_session, kept, restriction_records, stored

pytestmark = pytest.mark.django_db

HANDLERS = {
    "sync-handler": "tests.failure_handlers.json_failure",
    "async-handler": "tests.failure_handlers.ajson_failure",
}


@pytest.fixture(params=HANDLERS.keys())
def handler(request: pytest.FixtureRequest) -> str:
    """Each test runs with a sync and an async handler, through Client and AsyncClient."""
    return HANDLERS[request.param]


# The handler builds the response ------------------------------------------------------------------


def test_the_handler_builds_the_failure_response(http: Http, handler: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=handler):
        key = bound_cookie_session(http, ip="192.0.2.7")

        response = http.get("read", ip="198.51.100.1")

    assert_restricted(response, key, status=401)
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "session_restricted"
    assert response.json()["handler"] == ("async" if handler.endswith(".ajson_failure") else "sync")


def test_the_handler_is_told_the_reason_and_gets_the_request(http: Http, handler: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=handler):
        bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")
        ip_change = http.get("read", ip="198.51.100.1", ua="Browser A")
        bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")
        ua_change = http.get("read", ip="192.0.2.7", ua="Browser B")

    assert ip_change.json()["reason"] == "ip"
    assert ua_change.json()["reason"] == "ua"
    assert ua_change.json()["path"] == http.url("read")


def test_the_handler_takes_precedence_over_redirect_view_and_failure_status(http: Http, handler: str) -> None:
    with override_settings(
        RESTRICTEDSESSIONS_FAILURE_HANDLER=handler,
        RESTRICTEDSESSIONS_REDIRECT_VIEW="landing",
        RESTRICTEDSESSIONS_FAILURE_STATUS=403,
    ):
        key = bound_cookie_session(http)

        response = http.get("read", ip="198.51.100.1")

    assert_restricted(response, key, status=401)
    assert "Location" not in response
    assert response.json()["reason"] == "ip"


def test_a_header_client_is_still_told_to_drop_its_key(header_http: Http, handler: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=handler):
        key = header_http.get("write", ip="192.0.2.7", key="").headers[HEADER]

        response = header_http.get("read", key=key, ip="198.51.100.1")

    assert_restricted(response, key, status=401)
    assert response.headers[HEADER] == ""


def test_with_authed_only_the_user_is_logged_out_before_the_handler_answers(
    http: Http, alice: object, handler: str
) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=handler, RESTRICTEDSESSIONS_AUTHED_ONLY=True):
        http.post("login", {"username": "alice"}, ip="192.0.2.7")
        key = http.cookie_key
        assert key

        response = http.get("whoami", ip="198.51.100.1")

        assert_restricted(response, key, status=401)
        assert http.get("whoami", ip="192.0.2.7").json() == {"user": None}


def test_the_handler_is_not_called_for_a_matching_request(http: Http, handler: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=handler):
        bound_cookie_session(http)

        assert kept(http.get("read")) == {"value": "mine"}


# A handler that returns no response -----------------------------------------------------------------

NOT_RESPONSES = {
    "sync-none": ("tests.views.no_response", "NoneType"),
    "async-none": ("tests.views.ano_response", "NoneType"),
    "sync-str": ("tests.views.text_response", "str"),
}


@pytest.mark.parametrize(("path", "returned"), NOT_RESPONSES.values(), ids=NOT_RESPONSES.keys())
@pytest.mark.parametrize("status", [400, 403])
def test_a_handler_returning_no_response_is_a_logged_error_and_failure_status(
    http: Http, caplog: pytest.LogCaptureFixture, path: str, returned: str, status: int
) -> None:
    key = bound_cookie_session(http)

    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=path, RESTRICTEDSESSIONS_FAILURE_STATUS=status):
        response = http.get("write", {"value": "thief"}, ua="Thief")

    assert_restricted(response, key, status)
    assert response.content == b""
    assert http.cookie_key is None
    [error] = [record for record in restriction_records(caplog) if record.levelno == logging.ERROR]
    assert error.getMessage() == (
        f"RESTRICTEDSESSIONS_FAILURE_HANDLER returned {returned} instead of an HttpResponse "
        f"(path {http.url('write')}); answering with FAILURE_STATUS."
    )


# Misconfiguration -------------------------------------------------------------------------------------

BAD_HANDLERS = {
    "no-such-module": "tests.no_such_module.handler",
    "no-such-attribute": "tests.failure_handlers.no_such_handler",
    "not-a-dotted-path": "json_failure",
    "not-callable": "tests.failure_handlers.NOT_CALLABLE",
    "empty": "",
}


def _ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


async def _aok(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


@pytest.mark.parametrize("path", BAD_HANDLERS.values(), ids=BAD_HANDLERS.keys())
def test_a_bad_handler_path_is_the_e015_system_check_error(path: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=path):
        errors = [m for m in run_checks() if m.id and m.id.startswith("restricted_sessions.")]

    [error] = errors
    assert isinstance(error, Error)
    assert error.id == "restricted_sessions.E015"
    assert "FAILURE_HANDLER" in error.msg
    assert error.hint


@pytest.mark.parametrize("get_response", [_ok, _aok], ids=["sync", "async"])
@pytest.mark.parametrize("path", BAD_HANDLERS.values(), ids=BAD_HANDLERS.keys())
def test_a_bad_handler_path_stops_the_middleware_from_being_built(path: str, get_response: Callable[..., Any]) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=path), pytest.raises(ImproperlyConfigured, match="E015"):
        RestrictedSessionsMiddleware(get_response)


@pytest.mark.parametrize("path", HANDLERS.values(), ids=HANDLERS.keys())
def test_a_good_handler_path_passes_the_checks(path: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=path):
        assert [m for m in run_checks() if m.id and m.id.startswith("restricted_sessions.")] == []
        RestrictedSessionsMiddleware(_ok)


# A redirect never loops -------------------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="landing")
def test_the_redirect_target_is_reachable_after_the_flush(http: Http) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7")

    response = http.get("read", ip="198.51.100.1")
    assert response.status_code == 302
    landing = http.get(response["Location"], ip="198.51.100.1")

    assert stored(key) == {}
    assert landing.status_code == 200
    assert landing.content == b"landing"


@pytest.mark.parametrize("target", ["sync:read", "async:read"])
def test_a_changed_client_asking_for_the_redirect_target_itself_gets_it_after_the_flush(
    http: Http, target: str
) -> None:
    with override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW=target):
        key = bound_cookie_session(http, ip="192.0.2.7")

        response = http.get(reverse(target), ip="198.51.100.1")

    # Redirecting to the page that was asked for would loop: it is served, with the session ended.
    assert response.status_code == 200
    assert kept(response) == {}
    assert stored(key) == {}


@pytest.mark.parametrize("target", ["sync:read", "async:read"])
def test_a_header_client_replaying_its_old_key_to_the_redirect_target_does_not_loop(
    header_http: Http, target: str
) -> None:
    with override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW=target):
        key = header_http.get("write", ip="192.0.2.7", key="").headers[HEADER]

        response = header_http.get(reverse(target), key=key, ip="198.51.100.1")
        again = header_http.get(reverse(target), key=key, ip="198.51.100.1")

    assert response.status_code == again.status_code == 200
    assert kept(response) == kept(again) == {}
    assert response.headers[HEADER] == ""


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="sync:login", RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_with_authed_only_the_redirect_to_the_login_page_lets_the_user_log_in_again(http: Http, alice: object) -> None:
    http.post("login", {"username": "alice"}, ip="192.0.2.7")

    response = http.get("whoami", ip="198.51.100.1")
    assert response.status_code == 302
    again = http.post(response["Location"], {"username": "alice"}, ip="198.51.100.1")

    assert again.status_code == 200
    assert http.get("whoami", ip="198.51.100.1").json() == {"user": "alice"}


def test_a_client_following_redirects_ends_on_the_target(http: Http) -> None:
    with override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="landing"):
        key = bound_cookie_session(http, ip="192.0.2.7")

        response = http.get("read", ip="198.51.100.1", follow=True)

    assert response.status_code == 200
    assert response.content == b"landing"
    assert [status for _, status in response.redirect_chain] == [302]
    assert stored(key) == {}


@override_settings(
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    RESTRICTEDSESSIONS_REDIRECT_VIEW="landing",
)
def test_with_signed_cookies_a_client_replaying_its_old_cookie_still_reaches_the_redirect_target(http: Http) -> None:
    """A signed cookie cannot be revoked by the flush; the redirect target must still not redirect again."""
    http.get("write", {"value": "mine"}, ip="192.0.2.7")
    old_cookie = http.cookie_key
    assert old_cookie

    response = http.get("read", ip="198.51.100.1")
    assert response.status_code == 302
    http.client.cookies["sessionid"] = old_cookie
    followed = http.get(response["Location"], ip="198.51.100.1")

    assert followed.status_code == 200
    assert followed.content == b"landing"
