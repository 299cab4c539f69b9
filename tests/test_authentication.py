"""restricted_sessions.authentication.SessionAuthentication: DRF's, without CSRF for header sessions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.authentication import SessionAuthentication as DRFSessionAuthentication

from restricted_sessions.authentication import SessionAuthentication
from tests.helpers import HEADER, Http, login, start_header_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(new_http: Callable[..., Http]) -> Http:
    return new_http(enforce_csrf_checks=True)


@pytest.fixture
def header_client(new_http: Callable[..., Http]) -> Http:
    return new_http(cookies=False, enforce_csrf_checks=True)


def test_is_a_subclass_of_drfs_session_authentication() -> None:
    assert issubclass(SessionAuthentication, DRFSessionAuthentication)


def test_a_header_session_calls_the_api_without_a_csrf_token(header_client: Http, alice: object) -> None:
    key = login(header_client, key=start_header_session(header_client)).headers[HEADER]

    response = header_client.post("api", {"x": "1"}, key=key)

    assert response.status_code == 200
    assert response.json() == {"user": "alice"}


def test_a_cookie_session_without_a_csrf_token_is_refused(browser: Http, alice: object) -> None:
    login(browser)

    response = browser.post("api", {"x": "1"})

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_cookie_session_with_a_csrf_token_is_accepted(browser: Http, alice: object) -> None:
    login(browser)
    browser.client.cookies["csrftoken"] = token = "b" * 32

    response = browser.post("api", {"x": "1"}, headers={"X-CSRFToken": token})

    assert response.status_code == 200
    assert response.json() == {"user": "alice"}


def test_an_unknown_header_key_is_not_authenticated(header_client: Http, alice: object) -> None:
    response = header_client.post("api", {"x": "1"}, key="abcdefghijklmnopqrstuvwxyz012345")

    assert response.status_code == 403
    assert response.headers[HEADER] == ""


def test_a_cookie_session_with_a_stray_header_session_elsewhere_is_still_checked(
    browser: Http, header_client: Http, alice: object
) -> None:
    key = login(header_client, key=start_header_session(header_client)).headers[HEADER]
    browser.client.cookies["sessionid"] = key

    response = browser.post("api", {"x": "1"})

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
