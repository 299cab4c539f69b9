"""The warning logged on logger ``restricted_sessions`` when a session is restricted.

It carries structured ``extra`` fields for log pipelines: ``reason``, the masked old and new IP
(``old_ip``/``new_ip``: the /24 or /48 network), the user's id where known, the request path and
whether the change was enforced. The session key and cookie values are bearer credentials: they
never appear anywhere in the log output, whatever the path that led there.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter

from restricted_sessions.changes import escaped
from restricted_sessions.middleware import RestrictedSessionsMiddleware
from restricted_sessions.signals import session_restricted
from restricted_sessions.tickets import aredeem_ticket, issue_ticket
from tests.helpers import (
    DEFAULT_IP,
    DEFAULT_UA,
    HEADER,
    Everything,
    Http,
    assert_restricted,
    bound_cookie_session,
    captured_logs,
    create_session,
    session_store,
)

pytestmark = pytest.mark.django_db

CSRF_COOKIE = "Zq3cRkT1bFvN8wXy0aB2cD4eF6gH8iJ9"


@pytest.fixture
def logs() -> Iterator[Everything]:
    with captured_logs() as handler:
        yield handler


def assert_no_secrets(logs: Everything, *secrets: str) -> None:
    assert logs.records
    for secret in secrets:
        assert secret
        assert secret not in logs.output


# The messages --------------------------------------------------------------------------------------


def test_an_ip_change_says_what_was_bound_and_what_arrived(http: Http, logs: Everything) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    http.get("read", ip="198.51.100.1")

    [record] = logs.restriction_warnings()
    assert record.getMessage() == (
        f"Session restricted: the IP address changed (bound 192.0.2.7, request 198.51.100.1, path {http.url('read')})."
    )


def test_a_session_bound_while_the_address_was_unreadable_says_so(http: Http, logs: Everything) -> None:
    bound_cookie_session(http, ip="garbage")

    http.get("read", ip="198.51.100.1")

    [record] = logs.restriction_warnings()
    assert "(bound unreadable, request 198.51.100.1," in record.getMessage()


UA_CHANGES = {
    "another": ("Browser A", "Browser B", "bound to a User-Agent, request sent another"),
    "none-after-one": ("Browser A", None, "bound to a User-Agent, request sent none"),
    "one-after-none": (None, "Browser B", "bound to no User-Agent, request sent one"),
}


@pytest.mark.parametrize(("before", "after", "says"), UA_CHANGES.values(), ids=UA_CHANGES.keys())
def test_a_user_agent_change_says_what_was_bound_and_what_arrived(
    http: Http, logs: Everything, before: str | None, after: str | None, says: str
) -> None:
    bound_cookie_session(http, ua=before)

    http.get("read", ua=after)

    [record] = logs.restriction_warnings()
    assert record.getMessage() == f"Session restricted: the User-Agent changed ({says}, path {http.url('read')})."


# Request values never reach a log line raw (log injection) -----------------------------------------

# (as sent in the URL, what the log line shows)
HOSTILE_PATHS = {
    "crlf": ("%0D%0A2026-01-01 INFO forged", "\\r\\n2026-01-01 INFO forged"),
    "lf": ("%0Aforged", "\\nforged"),
    "ansi": ("%1B[31mred%1B[0m", "\\x1b[31mred\\x1b[0m"),
    "nul": ("a%00b", "a\\x00b"),
    "del": ("a%7Fb", "a\\x7fb"),
    "tab": ("a%09b", "a\\tb"),
    "c1-next-line": ("a%C2%85b", "a\\x85b"),
    "line-separator": ("a%E2%80%A8b", "a\\u2028b"),
    "bidi-override": ("a%E2%80%AEb", "a\\u202eb"),
}


def _raw_control_characters(text: str) -> list[str]:
    return [char for char in text if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")]


def assert_escaped(logs: Everything, shown: str) -> None:
    assert logs.records
    for record in logs.records:
        if record.name.startswith("restricted_sessions"):
            line = logs.format(record)
            assert _raw_control_characters(line) == []
            assert shown in line


@pytest.mark.parametrize(("sent", "shown"), HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
@pytest.mark.parametrize("report_only", [False, True], ids=["enforced", "report-only"])
def test_a_restricted_requests_path_is_escaped_in_the_log_line(
    http: Http, logs: Everything, sent: str, shown: str, report_only: bool
) -> None:
    bound_cookie_session(http)

    with override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=report_only):
        http.get(f"{http.url('read')}{sent}", ua="Thief")

    [record] = logs.restriction_warnings()
    assert record.path == f"{http.url('read')}{shown}"  # type: ignore[attr-defined]
    assert_escaped(logs, shown)


@pytest.mark.parametrize(("sent", "shown"), HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
@override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER="tests.views.no_response")
def test_a_broken_failure_handlers_error_escapes_the_path(http: Http, logs: Everything, sent: str, shown: str) -> None:
    bound_cookie_session(http)

    assert http.get(f"{http.url('read')}{sent}", ua="Thief").status_code == 400

    assert_escaped(logs, shown)
    assert any(record.levelno == logging.ERROR for record in logs.records)


@pytest.mark.parametrize(("sent", "shown"), HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
def test_a_refused_tickets_path_is_escaped_in_the_log_line(logs: Everything, sent: str, shown: str) -> None:
    factory = RequestFactory()
    asking = factory.post("/ticket/", REMOTE_ADDR=DEFAULT_IP, HTTP_USER_AGENT=DEFAULT_UA)
    asking.session = session_store(create_session({"value": "mine"}))
    ticket = issue_ticket(asking)
    presenting = factory.get(f"/ws/{sent}", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=DEFAULT_UA)

    assert async_to_sync(aredeem_ticket)(ticket, presenting) is None

    [record] = logs.restriction_warnings()
    assert record.path == f"/ws/{shown}"  # type: ignore[attr-defined]
    assert_escaped(logs, shown)


# Structured fields ------------------------------------------------------------------------------


def test_an_ip_change_logs_the_reason_the_masked_addresses_and_the_path(http: Http, logs: Everything) -> None:
    bound_cookie_session(http, ip="192.0.2.7")

    http.get("read", ip="198.51.100.1")

    [record] = logs.restriction_warnings()
    assert record.reason == "ip"  # type: ignore[attr-defined]
    assert record.old_ip == "192.0.2.0/24"  # type: ignore[attr-defined]
    assert record.new_ip == "198.51.100.0/24"  # type: ignore[attr-defined]
    assert record.path == http.url("read")  # type: ignore[attr-defined]
    assert record.user_id is None  # type: ignore[attr-defined]
    assert record.enforced is True  # type: ignore[attr-defined]


def test_ipv6_addresses_are_masked_to_their_slash_48(http: Http, logs: Everything) -> None:
    bound_cookie_session(http, ip="2001:db8:1:2::7")

    http.get("read", ip="2001:db8:5:6::9")

    [record] = logs.restriction_warnings()
    assert record.old_ip == "2001:db8:1::/48"  # type: ignore[attr-defined]
    assert record.new_ip == "2001:db8:5::/48"  # type: ignore[attr-defined]


def test_a_user_agent_change_logs_reason_ua_and_the_masked_address(http: Http, logs: Everything) -> None:
    bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")

    http.get("read", ip="192.0.2.7", ua="Browser B")

    [record] = logs.restriction_warnings()
    assert record.reason == "ua"  # type: ignore[attr-defined]
    assert record.old_ip == "192.0.2.0/24"  # type: ignore[attr-defined]
    assert record.new_ip == "192.0.2.0/24"  # type: ignore[attr-defined]


def test_the_user_id_is_logged_when_known(http: Http, alice: Any, logs: Everything) -> None:
    http.post("login", {"username": "alice"}, ip="192.0.2.7")

    http.get("whoami", ip="198.51.100.1")

    [record] = logs.restriction_warnings()
    assert str(record.user_id) == str(alice.pk)  # type: ignore[attr-defined]
    assert record.path == http.url("whoami")  # type: ignore[attr-defined]


def test_the_path_is_logged_without_the_query_string(http: Http, logs: Everything) -> None:
    bound_cookie_session(http)

    http.get("read", {"token": "s3cr3t-in-the-query"}, ip="198.51.100.1")

    [record] = logs.restriction_warnings()
    assert record.path == http.url("read")  # type: ignore[attr-defined]


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_report_only_logs_enforced_false(http: Http, logs: Everything) -> None:
    bound_cookie_session(http)

    http.get("read", ip="198.51.100.1")

    [record] = logs.restriction_warnings()
    assert record.enforced is False  # type: ignore[attr-defined]


def test_one_warning_per_change(http: Http, logs: Everything) -> None:
    bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")
    http.get("read", ip="192.0.2.7", ua="Browser A")

    http.get("read", ip="198.51.100.1", ua="Browser B")

    assert len(logs.restriction_warnings()) == 1


# Never the session key or cookies ---------------------------------------------------------------


def test_a_cookie_session_key_and_other_cookies_never_reach_the_logs(http: Http, logs: Everything) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7")
    http.client.cookies["csrftoken"] = CSRF_COOKIE

    assert_restricted(http.get("read", ip="198.51.100.1"), key)

    assert logs.restriction_warnings()
    assert_no_secrets(logs, key, CSRF_COOKIE)


def test_a_header_session_key_never_reaches_the_logs(header_http: Http, logs: Everything) -> None:
    key = header_http.get("write", ip="192.0.2.7", key="").headers[HEADER]

    assert_restricted(header_http.get("read", key=key, ip="198.51.100.1", ua="Another"), key)

    assert logs.restriction_warnings()
    assert_no_secrets(logs, key)


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_a_logged_out_users_session_key_never_reaches_the_logs(http: Http, alice: object, logs: Everything) -> None:
    http.post("login", {"username": "alice"}, ip="192.0.2.7")
    key = http.cookie_key
    assert key

    assert_restricted(http.get("whoami", ip="198.51.100.1"), key)

    assert logs.restriction_warnings()
    assert_no_secrets(logs, key)


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_in_report_only_mode_the_session_key_never_reaches_the_logs(http: Http, logs: Everything) -> None:
    key = bound_cookie_session(http)

    http.get("read", ip="198.51.100.1")

    assert logs.restriction_warnings()
    assert_no_secrets(logs, key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_with_the_hashed_store_the_session_key_never_reaches_the_logs(http: Http, logs: Everything) -> None:
    key = bound_cookie_session(http)

    http.get("read", ua="Another")

    assert logs.restriction_warnings()
    assert_no_secrets(logs, key)


def test_the_error_logged_for_a_raising_receiver_holds_no_session_key(
    http: Http, logs: Everything, connect_raising: Callable[[], None]
) -> None:
    key = bound_cookie_session(http)
    connect_raising()

    assert_restricted(http.get("read", ip="198.51.100.1"), key)

    assert any(record.levelno == logging.ERROR for record in logs.records)
    assert_no_secrets(logs, key)


@pytest.fixture
def connect_raising() -> Iterator[Callable[[], None]]:
    def receiver(sender: Any, request: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"alerting failed for {request.path}")

    yield lambda: session_restricted.connect(receiver, weak=False)
    session_restricted.disconnect(receiver)


@pytest.mark.parametrize("value", [None, 42, b"\r\n"])
def test_only_strings_are_escaped(value: object) -> None:
    assert escaped(value) is value


# Error reports ---------------------------------------------------------------------------------

OUTAGE_KEY = "k3y0fthevictim0000000000000000ab"
RESTRICTION = "restricted_sessions.middleware.RestrictedSessionsMiddleware"


class ValidatingMiddleware(RestrictedSessionsMiddleware):
    """Overrides a validator, so every request takes ``process_request`` (and ``examine``)."""

    def validate_ua(self, request: HttpRequest) -> bool:
        return super().validate_ua(request)


@pytest.mark.parametrize("restriction", [RESTRICTION, f"{__name__}.ValidatingMiddleware"])
@pytest.mark.parametrize("sent", ["cookie", "header"])
@override_settings(SESSION_ENGINE="tests.failing_store")
def test_a_store_outage_leaves_the_key_out_of_the_library_frames_of_the_error_report(
    new_http: Callable[..., Http], sent: str, restriction: str
) -> None:
    # Django's report (DEBUG page, AdminEmailHandler with include_html) shows frame locals. Only
    # the library's frames are inspected: Django's own (the test Client's, the ORM's) hold the key too.
    middleware = [restriction if entry == RESTRICTION else entry for entry in settings.MIDDLEWARE]
    assert restriction in middleware
    with override_settings(MIDDLEWARE=middleware):
        _assert_the_outage_report_leaves_the_key_out(new_http, sent)


def _assert_the_outage_report_leaves_the_key_out(new_http: Callable[..., Http], sent: str) -> None:
    http = new_http(raise_request_exception=True)
    if sent == "cookie":
        http.client.cookies["sessionid"] = OUTAGE_KEY
    with pytest.raises(DatabaseError) as raised:
        http.get("read", key=OUTAGE_KEY if sent == "header" else None)
    reporter = ExceptionReporter(None, raised.type, raised.value, raised.tb, is_email=True)

    frames = [frame for frame in reporter.get_traceback_frames() if "/restricted_sessions/" in frame["filename"]]
    assert frames, "the library's frames are in the traceback"
    leaked = [
        (frame["function"], name) for frame in frames for name, value in frame["vars"] if OUTAGE_KEY in str(value)
    ]
    assert leaked == []
