"""RESTRICTEDSESSIONS_REPORT_ONLY: log and signal every change, but neither flush nor block.

Like CSP's report-only mode: an operator turns it on first, measures the false positives in the
logs or through the ``session_restricted`` signal, and enforces later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.helpers import (
    HEADER,
    Calls,
    Http,
    bound,
    bound_cookie_session,
    bound_ip,
    kept,
    restriction_records,
    signal_calls,
    stored,
    ua_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def signals() -> Iterator[Calls]:
    with signal_calls() as calls:
        yield calls


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="restricted_sessions")
    return caplog


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_changed_session_is_served_as_usual(http: Http) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")

    response = http.get("read", ip="198.51.100.1", ua="Browser B")

    assert kept(response) == {"value": "mine"}
    assert "sessionid" not in response.cookies
    assert stored(key)["value"] == "mine"


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_the_session_and_its_binding_are_kept(http: Http) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")
    before = stored(key)

    http.get("read", ip="198.51.100.1", ua="Browser B")

    assert stored(key) == before
    assert bound_ip(stored(key)) == "192.0.2.7"
    assert bound(stored(key)).ua == ua_token("Browser A")


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_changed_request_that_saves_the_session_keeps_the_binding_as_it_was(http: Http) -> None:
    """Not even rewritten in the current STORE mode, which would bind it to the changed client."""
    key = bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")
    before = bound(stored(key))

    with override_settings(RESTRICTEDSESSIONS_STORE="hashed"):
        response = http.get("write", {"value": "changed"}, ip="198.51.100.1", ua="Browser B")

    assert response.status_code == 200
    assert stored(key)["value"] == "changed"
    assert bound(stored(key)) == before


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_change_is_logged_as_not_enforced(http: Http, logged: pytest.LogCaptureFixture) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    http.get("read", ip="198.51.100.1")

    [record] = restriction_records(logged)
    assert record.levelno == logging.WARNING
    assert record.enforced is False  # type: ignore[attr-defined]
    assert record.reason == "ip"  # type: ignore[attr-defined]


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_change_is_signalled_as_not_enforced(http: Http, signals: Calls) -> None:
    bound_cookie_session(http, ua="Browser A")

    http.get("read", ua="Browser B")

    [call] = signals
    assert call["enforced"] is False
    assert call["reason"] == "ua"
    assert call["stored"] == ua_token("Browser A")
    assert call["current"] == "Browser B"


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_every_changed_request_is_reported(http: Http, signals: Calls) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    for _ in range(3):
        http.get("read", ip="198.51.100.1")
    http.get("read", ip="192.0.2.7")

    assert [call["reason"] for call in signals] == ["ip", "ip", "ip"]


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_header_session_is_not_told_to_drop_its_key(header_http: Http) -> None:
    key = header_http.get("write", ip="192.0.2.7", key="").headers[HEADER]

    response = header_http.get("read", key=key, ip="198.51.100.1")

    assert kept(response) == {"value": "x"}
    assert response.headers.get(HEADER) != ""
    assert stored(key)["value"] == "x"


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True, RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_with_authed_only_the_user_stays_logged_in(http: Http, alice: object, signals: Calls) -> None:
    http.post("login", {"username": "alice"}, ip="192.0.2.7")

    assert http.get("whoami", ip="198.51.100.1").json() == {"user": "alice"}
    assert http.get("whoami", ip="192.0.2.7").json() == {"user": "alice"}
    assert [call["enforced"] for call in signals] == [False]


@override_settings(
    RESTRICTEDSESSIONS_REPORT_ONLY=True,
    RESTRICTEDSESSIONS_REDIRECT_VIEW="landing",
    RESTRICTEDSESSIONS_FAILURE_STATUS=403,
)
def test_neither_redirect_nor_failure_status_is_used(http: Http) -> None:
    bound_cookie_session(http)

    assert kept(http.get("read", ip="198.51.100.1")) == {"value": "mine"}


@override_settings(
    RESTRICTEDSESSIONS_REPORT_ONLY=True,
    RESTRICTEDSESSIONS_FAILURE_HANDLER="tests.failure_handlers.json_failure",
)
def test_the_failure_handler_is_not_called(http: Http) -> None:
    bound_cookie_session(http)

    assert kept(http.get("read", ip="198.51.100.1")) == {"value": "mine"}


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_matching_request_is_not_reported(http: Http, signals: Calls, logged: pytest.LogCaptureFixture) -> None:
    bound_cookie_session(http)

    http.get("read")

    assert signals == []
    assert restriction_records(logged) == []


def test_switching_report_only_off_enforces_on_the_same_session(http: Http) -> None:
    with override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True):
        key = bound_cookie_session(http, ip="192.0.2.7")
        kept(http.get("read", ip="198.51.100.1"))

    with override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=False):
        response = http.get("read", ip="198.51.100.1")

    assert response.status_code == 400
    assert stored(key) == {}


def test_enforcing_is_the_default(http: Http, signals: Calls) -> None:
    key = bound_cookie_session(http)

    assert http.get("read", ip="198.51.100.1").status_code == 400
    assert stored(key) == {}
    assert [call["enforced"] for call in signals] == [True]


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_session_a_changed_client_starts_anew_is_bound_to_it(http: Http, alice: object, bob: object) -> None:
    # A login as another user flushes the changed session: the new one is bound like any other,
    # so that enforcing later protects it.
    http.post("login", {"username": "alice"}, ip="192.0.2.7", ua="Browser A")
    http.post("login", {"username": "bob"}, ip="198.51.100.1", ua="Browser B")
    key = http.cookie_key
    assert key

    assert bound_ip(stored(key)) == "198.51.100.1"
    assert bound(stored(key)).ua == ua_token("Browser B")


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_login_into_a_changed_anonymous_session_binds_it_to_the_client_that_logged_in(
    http: Http, alice: object
) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")
    http.post("login", {"username": "alice"}, ip="198.51.100.1", ua="Browser B")
    new = http.cookie_key
    assert new
    assert new != key

    assert bound_ip(stored(new)) == "198.51.100.1"
    assert bound(stored(new)).ua == ua_token("Browser B")
