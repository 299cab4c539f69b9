"""restricted_sessions.signals.session_restricted: one signal per detected change.

Sent with ``request``, ``reason`` ("ip" or "ua"), the ``stored`` and the ``current`` value and
``enforced``, so receivers can alert, audit or count. A receiver that raises is logged and never
stops the flush or the failure response. Async receivers work under WSGI and ASGI alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.contrib.auth.signals import user_logged_out
from django.http import HttpRequest
from django.test import override_settings

from restricted_sessions.middleware import RestrictedSessionsMiddleware
from restricted_sessions.signals import session_restricted
from tests.helpers import (
    HEADER,
    Calls,
    Http,
    assert_restricted,
    bound_cookie_session,
    connected,
    login,
    restriction_records,
    signal_calls,
    stored,
    ua_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def connect() -> Iterator[Callable[[Callable[..., Any]], None]]:
    """Connect receivers to session_restricted for the test only."""
    with ExitStack() as stack:
        yield lambda receiver: stack.enter_context(connected(receiver))


@pytest.fixture
def calls() -> Iterator[Calls]:
    with signal_calls() as received:
        yield received


def test_an_ip_change_is_signalled_with_the_stored_and_current_address(http: Http, calls: Calls) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    http.get("read", ip="198.51.100.1")

    [call] = calls
    assert call["sender"] is RestrictedSessionsMiddleware
    assert isinstance(call["request"], HttpRequest)
    assert call["request"].path == http.url("read")
    assert call["reason"] == "ip"
    assert call["stored"] == "192.0.2.7"
    assert call["current"] == "198.51.100.1"
    assert call["enforced"] is True


def test_a_user_agent_change_is_signalled_with_the_stored_and_current_user_agent(http: Http, calls: Calls) -> None:
    bound_cookie_session(http, ua="Browser A")

    http.get("read", ua="Browser B")

    [call] = calls
    assert call["reason"] == "ua"
    assert call["stored"] == ua_token("Browser A")
    assert call["current"] == "Browser B"
    assert call["enforced"] is True


def test_a_change_of_both_is_one_signal(http: Http, calls: Calls) -> None:
    bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")

    http.get("read", ip="198.51.100.1", ua="Browser B")

    assert len(calls) == 1
    assert calls[0]["reason"] in ("ip", "ua")


def test_an_unreadable_address_is_signalled_with_no_current_address(http: Http, calls: Calls) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    http.get("read", ip="garbage")

    [call] = calls
    assert call["reason"] == "ip"
    assert call["stored"] == "192.0.2.7"
    assert call["current"] is None


def test_a_missing_user_agent_is_signalled_with_no_current_user_agent(http: Http, calls: Calls) -> None:
    bound_cookie_session(http, ua="Browser A")

    http.get("read", ua=None)

    [call] = calls
    assert call["reason"] == "ua"
    assert call["current"] is None


def test_nothing_is_signalled_for_a_matching_request_or_a_request_without_a_session(
    http: Http, new_http: Callable[..., Http], calls: Calls
) -> None:
    bound_cookie_session(http)
    http.get("read")
    new_http().get("read", ip="198.51.100.1", ua="Another")

    assert calls == []


def test_the_flushed_session_is_signalled_once_not_again_on_the_next_request(http: Http, calls: Calls) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    http.get("read", ip="198.51.100.1")
    http.get("read", ip="198.51.100.1")

    assert len(calls) == 1


def test_a_header_session_change_is_signalled(header_http: Http, calls: Calls) -> None:
    key = header_http.get("write", ip="192.0.2.7", key="").headers[HEADER]

    header_http.get("read", key=key, ip="198.51.100.1")

    [call] = calls
    assert call["reason"] == "ip"
    assert call["request"].headers[HEADER] == key


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_receivers_can_see_who_was_logged_in(
    http: Http, alice: Any, connect: Callable[[Callable[..., Any]], None]
) -> None:
    seen: list[Any] = []

    def receiver(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
        seen.append(request.user.pk)

    connect(receiver)
    http.post("login", {"username": "alice"}, ip="192.0.2.7")

    http.get("whoami", ip="198.51.100.1")

    assert seen == [alice.pk]


# Async receivers ------------------------------------------------------------------------------------


def test_an_async_receiver_is_called_under_wsgi_and_asgi(
    http: Http, connect: Callable[[Callable[..., Any]], None]
) -> None:
    received: Calls = []

    async def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    connect(receiver)
    key = bound_cookie_session(http, ua="Browser A")

    response = http.get("read", ua="Browser B")

    assert_restricted(response, key)
    [call] = received
    assert call["reason"] == "ua"
    assert call["enforced"] is True


def test_sync_and_async_receivers_are_each_called_once(
    http: Http, connect: Callable[[Callable[..., Any]], None]
) -> None:
    received: list[str] = []

    def sync_receiver(sender: Any, **kwargs: Any) -> None:
        received.append("sync")

    async def async_receiver(sender: Any, **kwargs: Any) -> None:
        received.append("async")

    connect(sync_receiver)
    connect(async_receiver)
    bound_cookie_session(http)

    http.get("read", ip="198.51.100.1")

    assert sorted(received) == ["async", "sync"]


# A raising receiver ---------------------------------------------------------------------------------


class AlertingFailed(Exception):
    pass


def raising_receiver(sender: Any, **kwargs: Any) -> None:
    raise AlertingFailed("the alerting service is down")


async def araising_receiver(sender: Any, **kwargs: Any) -> None:
    raise AlertingFailed("the alerting service is down")


@pytest.mark.parametrize("receiver", [raising_receiver, araising_receiver], ids=["sync", "async"])
def test_a_raising_receiver_does_not_stop_the_flush_or_the_response(
    http: Http,
    connect: Callable[[Callable[..., Any]], None],
    caplog: pytest.LogCaptureFixture,
    receiver: Callable[..., Any],
) -> None:
    connect(receiver)
    key = bound_cookie_session(http, ip="192.0.2.7")

    response = http.get("read", ip="198.51.100.1")

    assert_restricted(response, key)
    assert response.content == b""
    assert any(
        record.exc_info and isinstance(record.exc_info[1], AlertingFailed) for record in restriction_records(caplog)
    )


@pytest.mark.parametrize("receiver", [raising_receiver, araising_receiver], ids=["sync", "async"])
def test_a_raising_receiver_does_not_stop_the_other_receivers(
    http: Http, connect: Callable[[Callable[..., Any]], None], calls: Calls, receiver: Callable[..., Any]
) -> None:
    # `calls` connected its receiver first; connect a raising one, then another one after it.
    after: list[str] = []
    connect(receiver)
    connect(lambda sender, **kwargs: after.append(kwargs["reason"]))
    bound_cookie_session(http)

    http.get("read", ip="198.51.100.1")

    assert len(calls) == 1
    assert after == ["ip"]


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_a_raising_receiver_does_not_stop_the_logout(
    http: Http, alice: object, connect: Callable[[Callable[..., Any]], None]
) -> None:
    connect(raising_receiver)
    http.post("login", {"username": "alice"}, ip="192.0.2.7")
    key = http.cookie_key
    assert key

    assert_restricted(http.get("whoami", ip="198.51.100.1"), key)
    assert http.get("whoami", ip="192.0.2.7").json() == {"user": None}


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="landing")
def test_a_raising_receiver_does_not_stop_the_redirect(
    http: Http, connect: Callable[[Callable[..., Any]], None]
) -> None:
    connect(raising_receiver)
    key = bound_cookie_session(http)

    response = http.get("read", ip="198.51.100.1")

    assert response.status_code == 302
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_a_raising_receiver_in_report_only_mode_does_not_break_the_request(
    http: Http, connect: Callable[[Callable[..., Any]], None]
) -> None:
    connect(raising_receiver)
    bound_cookie_session(http)

    response = http.get("read", ip="198.51.100.1")

    assert response.status_code == 200
    assert response.json() == {"data": {"value": "mine"}}


def test_the_signal_is_a_plain_django_signal() -> None:
    from django.dispatch import Signal

    assert isinstance(session_restricted, Signal)


# Ending an authenticated session: Django's logout, so user_logged_out hears of it --------------

CHANGES = {"ip": {"ip": "198.51.100.1"}, "ua": {"ua": "Thief"}}


@pytest.fixture
def logged_out() -> Iterator[list[Any]]:
    """The ``user`` of every user_logged_out sent during the test."""
    users: list[Any] = []

    def receiver(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        users.append(user)

    user_logged_out.connect(receiver, weak=False)
    yield users
    user_logged_out.disconnect(receiver)


def _failure_handler(http: Http) -> str:
    return "tests.views.auser_failure" if http.is_async else "tests.views.user_failure"


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
@pytest.mark.parametrize("authed_only", [False, True], ids=["every-session", "authed-only"])
def test_a_changed_authenticated_cookie_session_is_logged_out(
    http: Http, alice: Any, logged_out: list[Any], change: dict[str, str], authed_only: bool
) -> None:
    login(http)
    key = http.cookie_key

    with override_settings(
        RESTRICTEDSESSIONS_FAILURE_HANDLER=_failure_handler(http), RESTRICTEDSESSIONS_AUTHED_ONLY=authed_only
    ):
        response = http.get("whoami", **change)

    assert response.status_code == 403
    assert response.json()["user"] is None
    assert response.json().get("auser") is None
    assert logged_out == [alice]
    assert stored(key) == {}  # type: ignore[arg-type]


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_changed_authenticated_header_session_is_logged_out(
    header_http: Http, alice: Any, logged_out: list[Any], change: dict[str, str]
) -> None:
    key = login(header_http, key="").headers[HEADER]

    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER=_failure_handler(header_http)):
        response = header_http.get("whoami", key=key, **change)

    assert response.status_code == 403
    assert response.json()["user"] is None
    assert response.json().get("auser") is None
    assert response.headers[HEADER] == ""
    assert logged_out == [alice]
    assert stored(key) == {}


def test_a_changed_anonymous_session_is_flushed_without_a_logout(
    http: Http, logged_out: list[Any], calls: Calls
) -> None:
    key = bound_cookie_session(http)

    response = http.get("read", ua="Thief")

    assert_restricted(response, key)
    assert logged_out == []
    assert len(calls) == 1
