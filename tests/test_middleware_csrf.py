"""restricted_sessions.middleware.CsrfViewMiddleware: Django's CSRF check, skipped for header sessions only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.test import override_settings

from restricted_sessions.middleware import CsrfViewMiddleware
from tests.helpers import Http, start_header_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(new_http: Callable[..., Http]) -> Http:
    """A cookie client whose requests Django checks for CSRF."""
    return new_http(enforce_csrf_checks=True)


@pytest.fixture
def header_client(new_http: Callable[..., Http]) -> Http:
    """A cookieless client whose requests Django checks for CSRF."""
    return new_http(cookies=False, enforce_csrf_checks=True)


def test_is_a_subclass_of_djangos_csrf_middleware() -> None:
    assert issubclass(CsrfViewMiddleware, DjangoCsrfViewMiddleware)


def test_a_header_session_post_needs_no_csrf_token(header_client: Http) -> None:
    key = start_header_session(header_client)

    response = header_client.post("form", {"field": "1"}, key=key)

    assert response.status_code == 200
    assert response.content == b"posted"


def test_a_cookie_session_post_without_a_token_is_refused(browser: Http) -> None:
    browser.get("write")

    assert browser.post("form", {"field": "1"}).status_code == 403


def test_a_cookie_session_post_with_a_token_passes(browser: Http) -> None:
    browser.get("write")
    browser.client.cookies["csrftoken"] = token = "a" * 32

    response = browser.post("form", {"field": "1", "csrfmiddlewaretoken": token})

    assert response.status_code == 200


def test_a_post_without_any_session_is_checked(browser: Http) -> None:
    assert browser.post("form", {"field": "1"}).status_code == 403


def test_a_cookie_session_post_is_checked_even_with_csrf_exempt_set_elsewhere(
    browser: Http, new_http: Callable[..., Http]
) -> None:
    # The exemption follows how this request named its session, not the session itself.
    header_client = new_http(cookies=False, enforce_csrf_checks=True)
    key = start_header_session(header_client)
    browser.client.cookies["sessionid"] = key

    assert browser.post("form", {"field": "1"}).status_code == 403


@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=None)
def test_with_header_sessions_off_the_header_does_not_skip_the_check(browser: Http, header_client: Http) -> None:
    browser.get("write")
    key = browser.cookie_key
    assert key

    assert header_client.post("form", {"field": "1"}, key=key).status_code == 403
