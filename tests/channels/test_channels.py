"""restricted_sessions.channels: the binding enforced when a WebSocket connects (WebsocketCommunicator)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.signals import user_logged_out
from django.test import override_settings

from restricted_sessions.channels import (
    CLOSE_RESTRICTED,
    RestrictedSessionsMiddleware,
    handshake_request,
)
from restricted_sessions.signals import session_restricted
from tests.channels.helpers import PATH, aconnect, connect
from tests.conftest import DEFAULT_IP, DEFAULT_UA, Http, create_session, login, stored

# Channels' database_sync_to_async closes old connections, which a test transaction cannot survive.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.channels.urls")]

IP_KEY = "_restrictedsessions_ip"
UA_KEY = "_restrictedsessions_ua"
OTHER_IP = "203.0.113.9"
OTHER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) OtherBrowser/2.0"


@pytest.fixture
def mode() -> str:
    """The HTTP side (login) goes through Client; the WebSocket side is async either way."""
    return "sync"


@pytest.fixture
def key(alice: Any, http: Http) -> str:
    """Alice logged in over HTTP from DEFAULT_IP with DEFAULT_UA: her session key."""
    login(http)
    assert http.cookie_key is not None
    return http.cookie_key


@pytest.fixture
def signals() -> Iterator[list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        sent.append(kwargs)

    session_restricted.connect(receiver)
    yield sent
    session_restricted.disconnect(receiver)


@pytest.fixture
def warnings_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="restricted_sessions")
    return caplog


# The same client --------------------------------------------------------------------------


def test_the_same_ip_and_user_agent_connect(key: str) -> None:
    outcome = connect(cookie=key)

    assert outcome.accepted
    assert outcome.user == "alice"


def test_a_matching_connection_writes_nothing(key: str) -> None:
    before = stored(key)

    connect(cookie=key)

    assert stored(key) == before


def test_a_connection_without_a_session_is_untouched(db: None) -> None:
    outcome = connect(ip=None, ua=None)

    assert outcome.accepted
    assert outcome.user is None


def test_an_unknown_session_key_is_anonymous(db: None) -> None:
    outcome = connect(cookie="k" * 32, ua=OTHER_UA)

    assert outcome.accepted
    assert outcome.user is None


def test_a_websocket_never_binds_a_session(db: None) -> None:
    key = create_session({"value": "unbound"})

    outcome = connect(cookie=key, ip=OTHER_IP, ua=OTHER_UA)

    assert outcome.accepted
    assert outcome.greeting == {"user": None, "value": "unbound"}
    assert stored(key) == {"value": "unbound"}


# A changed client ---------------------------------------------------------------------------


def test_another_user_agent_is_refused_and_the_session_flushed(key: str) -> None:
    outcome = connect(cookie=key, ua=OTHER_UA)

    assert outcome == type(outcome)(False, code=CLOSE_RESTRICTED)
    assert stored(key) == {}
    assert connect(cookie=key).user is None


def test_another_ip_is_refused_and_the_session_flushed(key: str) -> None:
    outcome = connect(cookie=key, ip=OTHER_IP)

    assert not outcome.accepted
    assert outcome.code == 4403
    assert stored(key) == {}


@pytest.mark.parametrize("ip", ["", "garbage", "1.2.3.4:5678", None])
def test_an_unreadable_or_missing_address_is_a_change(key: str, ip: str | None) -> None:
    assert connect(cookie=key, ip=ip).code == CLOSE_RESTRICTED


def test_a_missing_user_agent_is_a_change(key: str) -> None:
    assert connect(cookie=key, ua=None).code == CLOSE_RESTRICTED


@override_settings(RESTRICTEDSESSIONS_IPV4_LENGTH=24)
def test_ips_are_compared_by_prefix(key: str) -> None:
    assert connect(cookie=key, ip="10.0.0.200").accepted


@override_settings(RESTRICTEDSESSIONS_RESTRICT_UA=False)
def test_restrict_ua_off_lets_another_user_agent_connect(key: str) -> None:
    assert connect(cookie=key, ua=OTHER_UA).accepted


@override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_ignore_versions_lets_a_browser_update_connect(alice: Any, http: Http) -> None:
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    login(http, ua=chrome)

    assert connect(cookie=http.cookie_key, ua=chrome.replace("131.0", "132.0")).accepted


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_hashed_binding_is_checked(alice: Any, http: Http) -> None:
    login(http)
    key = http.cookie_key
    assert key is not None

    assert connect(cookie=key).accepted
    assert connect(cookie=key, ua=OTHER_UA).code == CLOSE_RESTRICTED


def test_the_change_is_logged_without_the_session_key(key: str, warnings_logged: pytest.LogCaptureFixture) -> None:
    connect(cookie=key, ip=OTHER_IP)

    [record] = [r for r in warnings_logged.records if r.name == "restricted_sessions"]
    assert record.levelno == logging.WARNING
    assert record.reason == "ip"  # type: ignore[attr-defined]
    assert record.old_ip == "10.0.0.0/24"  # type: ignore[attr-defined]
    assert record.new_ip == "203.0.113.0/24"  # type: ignore[attr-defined]
    assert record.path == PATH  # type: ignore[attr-defined]
    assert record.enforced is True  # type: ignore[attr-defined]
    assert key not in warnings_logged.text


def test_the_signal_is_sent_once_with_the_handshake(key: str, signals: list[dict[str, Any]]) -> None:
    connect(cookie=key, ua=OTHER_UA)

    [sent] = signals
    assert sent["sender"] is RestrictedSessionsMiddleware
    assert sent["reason"] == "ua"
    assert sent["stored"] == DEFAULT_UA
    assert sent["current"] == OTHER_UA
    assert sent["enforced"] is True
    assert sent["request"].path == PATH
    assert sent["request"].META["REMOTE_ADDR"] == DEFAULT_IP
    assert sent["scope"]["type"] == "websocket"


def test_a_receiver_that_raises_does_not_stop_the_flush(key: str, caplog: pytest.LogCaptureFixture) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    session_restricted.connect(broken)
    try:
        outcome = connect(cookie=key, ua=OTHER_UA)
    finally:
        session_restricted.disconnect(broken)

    assert outcome.code == CLOSE_RESTRICTED
    assert stored(key) == {}
    assert "receiver" in caplog.text


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_report_only_logs_and_signals_but_lets_the_connection_through(
    key: str, signals: list[dict[str, Any]], warnings_logged: pytest.LogCaptureFixture
) -> None:
    outcome = connect(cookie=key, ua=OTHER_UA)

    assert outcome.accepted
    assert outcome.user == "alice"
    assert stored(key)[UA_KEY] == DEFAULT_UA
    assert [s["enforced"] for s in signals] == [False]
    assert "report only" in warnings_logged.text


# AUTHED_ONLY ----------------------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_authed_only_logs_the_user_out(key: str) -> None:
    logged_out: list[Any] = []

    def receiver(user: Any, **kwargs: Any) -> None:
        logged_out.append(user.get_username())

    user_logged_out.connect(receiver)
    try:
        outcome = connect(cookie=key, ip=OTHER_IP)
    finally:
        user_logged_out.disconnect(receiver)

    assert outcome.code == CLOSE_RESTRICTED
    assert logged_out == ["alice"]
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_authed_only_leaves_anonymous_sessions_alone(db: None) -> None:
    key = create_session({IP_KEY: DEFAULT_IP, UA_KEY: DEFAULT_UA, "value": "anonymous"})

    assert connect(cookie=key, ip=OTHER_IP).accepted
    assert stored(key)["value"] == "anonymous"


# Behind proxies -------------------------------------------------------------------------------

PROXY = "10.9.9.9"


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.9.0.0/16"])
def test_behind_a_trusted_proxy_the_forwarded_client_counts(key: str) -> None:
    forwarded = [(b"x-forwarded-for", f"{OTHER_IP}, {DEFAULT_IP}".encode())]

    assert connect(cookie=key, ip=PROXY, headers=forwarded).accepted


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.9.0.0/16"])
def test_a_forged_forwarded_entry_is_never_chosen(key: str) -> None:
    # The thief (OTHER_IP) writes the victim's address first; the proxy appends the real one.
    forwarded = [(b"x-forwarded-for", f"{DEFAULT_IP}, {OTHER_IP}".encode())]

    assert connect(cookie=key, ip=PROXY, headers=forwarded).code == CLOSE_RESTRICTED


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.9.0.0/16"])
def test_an_underscore_header_cannot_pass_for_x_forwarded_for(key: str) -> None:
    headers = [(b"x-forwarded-for", OTHER_IP.encode()), (b"x_forwarded_for", DEFAULT_IP.encode())]

    assert connect(cookie=key, ip=PROXY, headers=headers).code == CLOSE_RESTRICTED


@override_settings(RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_REAL_IP")
def test_remote_addr_key_names_a_handshake_header(alice: Any, http: Http) -> None:
    login(http, HTTP_X_REAL_IP=DEFAULT_IP)

    assert connect(cookie=http.cookie_key, ip=PROXY, headers=[(b"x-real-ip", DEFAULT_IP.encode())]).accepted
    assert connect(cookie=http.cookie_key, ip=PROXY, headers=[(b"x-real-ip", OTHER_IP.encode())]).code == 4403


# The middleware itself --------------------------------------------------------------------------


def test_the_handshake_request_describes_the_scope() -> None:
    request = handshake_request(
        {
            "type": "websocket",
            "path": "/ws/x/",
            "query_string": b"a=1",
            "client": ["192.0.2.1", 1234],
            "headers": [(b"user-agent", b"UA"), (b"x-a", b"1"), (b"x-a", b"2"), (b"x_b", b"no")],
        }
    )

    assert request.path == "/ws/x/"
    assert request.META["REMOTE_ADDR"] == "192.0.2.1"
    assert request.META["QUERY_STRING"] == "a=1"
    assert request.headers["User-Agent"] == "UA"
    assert request.META["HTTP_X_A"] == "1,2"
    assert "HTTP_X_B" not in request.META


def test_other_scope_types_pass_through() -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def receive() -> dict[str, Any]:
        raise AssertionError("not reached")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("not reached")

    async_to_sync(RestrictedSessionsMiddleware(inner))({"type": "http"}, receive, send)

    assert seen == [{"type": "http"}]


def test_a_missing_session_middleware_is_named_in_the_error() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    with pytest.raises(ValueError, match="AuthMiddlewareStack"):
        async_to_sync(aconnect)(application=RestrictedSessionsMiddleware(inner))


def test_a_client_that_leaves_before_connecting_gets_nothing(key: str) -> None:
    from restricted_sessions.channels import _refuse

    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(message: Any) -> None:
        sent.append(message)

    async_to_sync(_refuse)(receive, send, CLOSE_RESTRICTED)

    assert sent == []
