"""restricted_sessions.ninja.SessionAuth: header and cookie sessions for django-ninja operations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from ninja.security import SessionAuth as NinjaSessionAuth

from restricted_sessions.ninja import SessionAuth
from tests.conftest import HEADER, Http, login, start_header_session, stored
from tests.ninja.urls import api

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ninja.urls")]

CSRF_TOKEN = "a" * 32


@pytest.fixture
def browser(new_http: Callable[..., Http]) -> Http:
    """A cookie client whose requests Django checks for CSRF."""
    return new_http(enforce_csrf_checks=True)


@pytest.fixture
def app(new_http: Callable[..., Http]) -> Http:
    """A cookieless client (a mobile app, a script) whose requests Django checks for CSRF."""
    return new_http(cookies=False, enforce_csrf_checks=True)


def me(http: Http) -> str:
    return f"/ninja/{http.mode}/me"


def header_login(http: Http, **kwargs: Any) -> str:
    """Log alice in through the header protocol (an empty X-SessionID to start); the key it got."""
    kwargs.setdefault("key", "")
    key = login(http, **kwargs).headers[HEADER]
    assert key
    return key


def test_is_a_subclass_of_ninjas_session_auth() -> None:
    assert issubclass(SessionAuth, NinjaSessionAuth)


def test_a_header_session_is_authenticated(alice: Any, app: Http) -> None:
    key = header_login(app)

    response = app.get(me(app), key=key)

    assert response.status_code == 200
    assert response.json() == {"user": "alice", "header_session": True}


def test_a_header_session_post_needs_no_csrf_token(alice: Any, app: Http) -> None:
    key = header_login(app)

    response = app.post(me(app), key=key)

    assert response.status_code == 200
    assert response.json()["user"] == "alice"


def test_a_cookie_session_is_authenticated(alice: Any, browser: Http) -> None:
    login(browser)

    response = browser.get(me(browser))

    assert response.status_code == 200
    assert response.json() == {"user": "alice", "header_session": False}


def test_a_cookie_session_post_without_a_csrf_token_is_refused(alice: Any, browser: Http) -> None:
    login(browser)

    response = browser.post(me(browser))

    assert response.status_code == 403


def test_a_cookie_session_post_with_a_csrf_token_passes(alice: Any, browser: Http) -> None:
    login(browser)
    browser.client.cookies["csrftoken"] = CSRF_TOKEN

    response = browser.post(me(browser), headers={"X-CSRFToken": CSRF_TOKEN})

    assert response.status_code == 200
    assert response.json()["user"] == "alice"


def test_csrf_false_skips_the_check_for_cookie_sessions_too(alice: Any, browser: Http) -> None:
    login(browser)

    response = browser.post(f"/ninja/{browser.mode}/no-csrf")

    assert response.status_code == 200


def test_no_session_is_unauthorized(db: None, app: Http) -> None:
    assert app.get(me(app)).status_code == 401


def test_an_anonymous_session_is_unauthorized(db: None, app: Http) -> None:
    key = start_header_session(app)

    assert app.get(me(app), key=key).status_code == 401


def test_an_unknown_header_key_is_unauthorized_and_told_to_drop_it(db: None, app: Http) -> None:
    response = app.get(me(app), key="k" * 32)

    assert response.status_code == 401
    assert response.headers[HEADER] == ""


def test_the_header_wins_over_a_logged_in_cookie(alice: Any, browser: Http) -> None:
    # The cookie session is ignored, so its CSRF exemption can never be borrowed through the header.
    login(browser)

    response = browser.post(me(browser), key="k" * 32)

    assert response.status_code == 401


def test_a_header_session_replayed_with_another_user_agent_is_restricted(alice: Any, app: Http) -> None:
    key = header_login(app)

    response = app.get(me(app), key=key, ua="curl/8.5.0")

    assert response.status_code == 400
    assert stored(key) == {}
    # A key refused once stays refused, even from the client that owned it.
    assert app.get(me(app), key=key).status_code == 400


@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER="X-Session-Token")
def test_a_configured_header_name_is_accepted(alice: Any, app: Http) -> None:
    key = login(app, headers={"X-Session-Token": ""}).headers["X-Session-Token"]

    response = app.get(me(app), headers={"X-Session-Token": key})

    assert response.status_code == 200
    assert response.json()["header_session"] is True


# The OpenAPI schema ------------------------------------------------------------------------


def security_schemes(http: Http) -> dict[str, Any]:
    response = http.get("/ninja/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["paths"]["/ninja/sync/me"]["get"]["security"] == [{"SessionAuth": []}]
    return dict(schema["components"]["securitySchemes"])


@pytest.mark.parametrize("mode", ["sync"])
def test_the_schema_declares_an_api_key_in_the_session_header(http: Http) -> None:
    assert security_schemes(http) == {"SessionAuth": {"type": "apiKey", "in": "header", "name": "X-SessionID"}}


@pytest.mark.parametrize("mode", ["sync"])
@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER="X-Session-Token")
def test_the_schema_follows_the_configured_header_name(http: Http) -> None:
    assert security_schemes(http)["SessionAuth"]["name"] == "X-Session-Token"


@pytest.mark.parametrize("mode", ["sync"])
@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=None)
def test_with_header_sessions_off_the_schema_declares_the_cookie(http: Http) -> None:
    assert security_schemes(http) == {"SessionAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"}}


def test_the_schema_object_is_read_at_access_time() -> None:
    auth = SessionAuth()

    with override_settings(RESTRICTEDSESSIONS_SESSION_HEADER="X-Other"):
        assert auth.openapi_security_schema["name"] == "X-Other"
    assert auth.openapi_security_schema["name"] == "X-SessionID"
    assert api.get_openapi_schema()["components"]["securitySchemes"]["SessionAuth"]["in"] == "header"


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["not a network"], RESTRICTEDSESSIONS_SESSION_HEADER="X-Mine")
def test_it_is_made_under_invalid_settings_so_that_the_checks_report_them() -> None:
    # ninja reads the schema when the URLconf makes SessionAuth(): manage.py check imports the
    # URLconf, and must get to report every problem instead of a traceback about the first.
    assert SessionAuth().openapi_security_schema["name"] == "X-Mine"
