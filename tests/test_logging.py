"""The warning logged on logger ``restricted_sessions`` when a session is restricted.

It carries structured ``extra`` fields for log pipelines: ``reason``, the masked old and new IP
(``old_ip``/``new_ip``: the /24 or /48 network), the user's id where known, the request path and
whether the change was enforced. The session key and cookie values are bearer credentials: they
never appear anywhere in the log output, whatever the path that led there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from restricted_sessions.signals import session_restricted
from tests.conftest import HEADER, Http
from tests.helpers import assert_restricted, bound_cookie_session

pytestmark = pytest.mark.django_db

CSRF_COOKIE = "Zq3cRkT1bFvN8wXy0aB2cD4eF6gH8iJ9"


class Everything(logging.Handler):
    """Keeps every record of every logger, and all that a formatter could print of it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def output(self) -> str:
        return "\n".join(self.format(record) + "\n" + repr(vars(record)) for record in self.records)

    def restriction_warnings(self) -> list[logging.LogRecord]:
        return [
            record
            for record in self.records
            if record.name == "restricted_sessions" and record.levelno == logging.WARNING
        ]


@pytest.fixture
def logs() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def assert_no_secrets(logs: Everything, *secrets: str) -> None:
    assert logs.records
    for secret in secrets:
        assert secret
        assert secret not in logs.output


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
