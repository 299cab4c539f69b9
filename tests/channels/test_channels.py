"""restricted_sessions.channels: the binding enforced when a WebSocket connects (WebsocketCommunicator)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from ipaddress import ip_address
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.signals import user_logged_out
from django.test import override_settings

from restricted_sessions import enforcement
from restricted_sessions.addresses import parse_ip
from restricted_sessions.binding import BINDING_SESSION_KEY, Presented
from restricted_sessions.channels import (
    CLOSE_RESTRICTED,
    RestrictedSessionsMiddleware,
    WebSocketRestrictionMiddleware,
    handshake_request,
)
from restricted_sessions.conf import get_config
from restricted_sessions.dbsc import protocol as dbsc_protocol
from restricted_sessions.dbsc import session as dbsc_session
from restricted_sessions.signals import session_restricted
from tests.channels.helpers import PATH, aconnect, connect
from tests.conftest import DEFAULT_IP, DEFAULT_UA, Http, create_session, login, session_store, stored
from tests.dbsc.utils import CHROMIUM_JWK
from tests.restriction_helpers import IP_KEY, UA_KEY, bound, bound_cookie_session, restriction_records

# Channels' database_sync_to_async closes old connections, which a test transaction cannot survive.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.channels.urls")]

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


def test_a_refused_key_stays_refused(key: str) -> None:
    # Channels' AuthMiddleware loads the session first, which forgets a key that names no session.
    assert connect(cookie=key, ua=OTHER_UA).code == CLOSE_RESTRICTED

    assert connect(cookie=key).code == CLOSE_RESTRICTED


def test_a_key_refused_over_http_is_refused_on_the_websocket(key: str, http: Http) -> None:
    assert http.get("read", ua=OTHER_UA).status_code == 400

    assert connect(cookie=key).code == CLOSE_RESTRICTED


def test_an_unknown_key_is_not_refused(db: None) -> None:
    assert connect(cookie="k" * 32).accepted
    assert connect(cookie="k" * 32).accepted


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
    assert sent["sender"] is WebSocketRestrictionMiddleware
    assert sent["reason"] == "ua"
    assert sent["stored"] == get_config().policy.ua_token(DEFAULT_UA)
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
    assert bound(stored(key)).ua == get_config().policy.ua_token(DEFAULT_UA)
    assert [s["enforced"] for s in signals] == [False]
    assert "report only" in warnings_logged.text


def test_an_anonymous_change_logs_no_user(db: None, http: Http, warnings_logged: pytest.LogCaptureFixture) -> None:
    # The Channels copy of 1.0 logged a placeholder object here; the HTTP middleware logs None.
    key = bound_cookie_session(http)

    assert connect(cookie=key, ua=OTHER_UA).code == CLOSE_RESTRICTED

    [record] = restriction_records(warnings_logged)
    assert record.user_id is None  # type: ignore[attr-defined]


def test_a_logged_in_change_logs_the_user_id(alice: Any, key: str, warnings_logged: pytest.LogCaptureFixture) -> None:
    connect(cookie=key, ua=OTHER_UA)

    [record] = restriction_records(warnings_logged)
    assert record.user_id == str(alice.pk)  # type: ignore[attr-defined]


def test_the_websocket_and_http_log_the_same_record(
    db: None, http: Http, warnings_logged: pytest.LogCaptureFixture
) -> None:
    connect(cookie=bound_cookie_session(http), ua=OTHER_UA)
    http.client.cookies.clear()
    bound_cookie_session(http)
    http.get("read", ua=OTHER_UA)

    websocket, plain = restriction_records(warnings_logged)
    fields = ("reason", "old_ip", "new_ip", "user_id", "enforced")
    assert [getattr(websocket, name) for name in fields] == [getattr(plain, name) for name in fields]
    assert websocket.getMessage().replace(PATH, "/sync/read/") == plain.getMessage()


# What a check binds is saved at once ------------------------------------------------------------

IPV6 = "2001:db8::1"


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_dual_stack_binds_the_second_family_and_saves_it(key: str, http: Http) -> None:
    assert connect(cookie=key, ip=IPV6).accepted

    assert bound(stored(key)).ip2 == IPV6
    # Another IPv6 network (a thief) no longer gets the "first use" of the second family.
    assert connect(cookie=key, ip="2001:db8:1::1").code == CLOSE_RESTRICTED
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_the_second_family_bound_on_a_websocket_holds_over_http(key: str, http: Http) -> None:
    assert connect(cookie=key, ip=IPV6).accepted

    assert http.get("whoami", ip="2001:db8:1::1").status_code == 400


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_the_second_family_bound_on_a_websocket_admits_its_network_over_http(key: str, http: Http) -> None:
    assert connect(cookie=key, ip=IPV6).accepted

    assert http.get("whoami", ip="2001:db8::99").json() == {"user": "alice"}


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_a_known_second_family_writes_nothing(key: str) -> None:
    assert connect(cookie=key, ip=IPV6).accepted
    before = stored(key)

    assert connect(cookie=key, ip=IPV6).accepted
    assert connect(cookie=key).accepted

    assert stored(key) == before


OLD_SECRET = "restricted-sessions-old-secret-key-not-secret"
NEW_SECRET = "restricted-sessions-new-secret-key-not-secret"


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_binding_matched_through_a_fallback_key_is_rewritten(db: None, http: Http) -> None:
    with override_settings(SECRET_KEY=OLD_SECRET):
        key = bound_cookie_session(http)
        old = bound(stored(key))

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        assert connect(cookie=key).greeting == {"user": None, "value": "mine"}
        policy = get_config().policy
        new = bound(stored(key))
        assert new.ip == policy.ip_token(ip_address(DEFAULT_IP)) != old.ip
        assert new.ua == policy.ua_token(DEFAULT_UA) != old.ua

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[]):
        assert connect(cookie=key).greeting == {"user": None, "value": "mine"}
        assert connect(cookie=key, ip=OTHER_IP).code == CLOSE_RESTRICTED


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


def test_the_handshake_request_carries_the_cookies() -> None:
    headers = [(b"cookie", b"sessionid=k1; __Host-rs-dbsc=c1")]

    parsed = handshake_request({"type": "websocket", "headers": headers})
    from_scope = handshake_request({"type": "websocket", "headers": headers, "cookies": {"a": "1"}})

    assert parsed.COOKIES == {"sessionid": "k1", "__Host-rs-dbsc": "c1"}
    assert from_scope.COOKIES == {"a": "1"}


# DBSC: a device-bound session's WebSocket needs the bound cookie, as its HTTP requests do ---------


def _device_bound_session(registered_ago: float) -> tuple[str, str]:
    """A session bound to DEFAULT_IP/DEFAULT_UA and registered to a device key: (key, DBSC session id)."""
    config = get_config()
    binding = config.policy.new_binding(Presented(parse_ip(DEFAULT_IP), DEFAULT_UA)).encode()
    session_id = "s" + "a" * 32
    state = {"id": session_id, "alg": "ES256", "jwk": CHROMIUM_JWK, "registered_at": time.time() - registered_ago}
    key = create_session({BINDING_SESSION_KEY: binding, dbsc_session.SESSION_KEY: state, "cart": 1})
    return key, session_id


@override_settings(RESTRICTEDSESSIONS_DBSC=True)
def test_a_device_bound_session_with_its_bound_cookie_connects() -> None:
    key, session_id = _device_bound_session(registered_ago=3600)
    cookies = f"sessionid={key}; {get_config().dbsc.cookie_name}={dbsc_protocol.make_bound_cookie(session_id)}"

    outcome = connect(headers=[(b"cookie", cookies.encode())])

    assert outcome.accepted, f"refused with close code {outcome.code}"


@override_settings(RESTRICTEDSESSIONS_DBSC=True)
def test_a_device_bound_session_without_its_bound_cookie_is_refused_and_kept(db: None) -> None:
    key, _ = _device_bound_session(registered_ago=3600)

    outcome = connect(cookie=key)

    assert not outcome.accepted
    assert outcome.code == CLOSE_RESTRICTED
    assert stored(key)["cart"] == 1


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True, RESTRICTEDSESSIONS_DBSC=True)
def test_a_websocket_save_does_not_undo_a_registration_stored_meanwhile(key: str) -> None:
    # An IPv6 WebSocket after an IPv4 login binds the second family and saves the session it read;
    # the browser registered its device key in between: the save must keep the registration.
    registered = {"id": "s" + "b" * 32, "alg": "ES256", "jwk": CHROMIUM_JWK, "registered_at": time.time()}
    examine = enforcement.aexamine

    async def examine_then_the_browser_registers(*args: Any, **kwargs: Any) -> Any:
        found = await examine(*args, **kwargs)
        other = session_store(key)
        await other.aset(dbsc_session.SESSION_KEY, registered)
        await other.asave()
        return found

    with mock.patch("restricted_sessions.channels.enforcement.aexamine", examine_then_the_browser_registers):
        assert connect(cookie=key, ip="2001:db8::1").accepted

    assert dbsc_protocol.is_registered(stored(key).get(dbsc_session.SESSION_KEY))


def test_the_1_0_name_is_kept() -> None:
    assert RestrictedSessionsMiddleware is WebSocketRestrictionMiddleware


def test_other_scope_types_pass_through() -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def receive() -> dict[str, Any]:
        raise AssertionError("not reached")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("not reached")

    async_to_sync(WebSocketRestrictionMiddleware(inner))({"type": "http"}, receive, send)

    assert seen == [{"type": "http"}]


def test_a_missing_session_middleware_is_named_in_the_error() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    with pytest.raises(ValueError, match="AuthMiddlewareStack"):
        async_to_sync(aconnect)(application=WebSocketRestrictionMiddleware(inner))


def test_a_client_that_leaves_before_connecting_gets_nothing(key: str) -> None:
    from restricted_sessions.channels import _refuse

    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(message: Any) -> None:
        sent.append(message)

    async_to_sync(_refuse)(receive, send, CLOSE_RESTRICTED)

    assert sent == []
