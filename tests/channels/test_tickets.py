"""WebSocket tickets: how a cookieless client takes its header session to a WebSocket."""

from __future__ import annotations

import logging
import pickle
import time
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.core import signing
from django.core.cache import cache
from django.core.signing import b62_encode
from django.test import RequestFactory, override_settings

from restricted_sessions.binding import UNBOUND
from restricted_sessions.channels import CLOSE_RESTRICTED, CLOSE_TICKET_REFUSED, aissue_ticket
from tests.channels.helpers import connect
from tests.conftest import DEFAULT_IP, DEFAULT_UA, HEADER, Http, create_session, login, session_store, stored
from tests.restriction_helpers import bound

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.channels.urls")]

OTHER_IP = "203.0.113.9"
OTHER_UA = "curl/8.5.0"


@pytest.fixture
def mode() -> str:
    return "sync"


@pytest.fixture
def key(alice: Any, header_http: Http) -> str:
    """Alice logged in through the header protocol (no cookies, an empty X-SessionID): her session key."""
    response = login(header_http, key="")
    assert response.headers[HEADER]
    return response.headers[HEADER]


def get_ticket(http: Http, key: str | None, **kwargs: Any) -> str:
    response = http.post("/ws-ticket/", key=key, **kwargs)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expires_in"] == 30
    return str(body["ticket"])


# The ticket view --------------------------------------------------------------------------------


def test_a_header_session_gets_a_ticket_not_to_be_cached(key: str, header_http: Http) -> None:
    response = header_http.post("/ws-ticket/", key=key)

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert key not in response.content.decode()


def test_no_session_no_ticket(db: None, header_http: Http) -> None:
    response = header_http.post("/ws-ticket/")

    assert response.status_code == 403
    assert response.json() == {"detail": "No session: log in first."}


def test_an_unknown_key_gets_no_ticket(db: None, header_http: Http) -> None:
    assert header_http.post("/ws-ticket/", key="k" * 32).status_code == 403


def test_tickets_are_asked_for_with_post(key: str, header_http: Http) -> None:
    assert header_http.get("/ws-ticket/", key=key).status_code == 405


def test_a_restricted_session_gets_no_ticket(key: str, header_http: Http) -> None:
    # The ticket view sits behind the HTTP middleware: a thief's request is refused there.
    assert header_http.post("/ws-ticket/", key=key, ua=OTHER_UA).status_code == 400
    assert stored(key) == {}


def test_a_cookie_session_needs_a_csrf_token_for_a_ticket(alice: Any, new_http: Any) -> None:
    browser = new_http(enforce_csrf_checks=True)
    login(browser)

    assert browser.post("/ws-ticket/").status_code == 403
    browser.client.cookies["csrftoken"] = token = "a" * 32
    assert browser.post("/ws-ticket/", headers={"X-CSRFToken": token}).status_code == 200


# Redeeming a ticket --------------------------------------------------------------------------------


def test_a_ticket_opens_the_session_without_cookies(key: str, header_http: Http) -> None:
    ticket = get_ticket(header_http, key)

    outcome = connect(ticket=ticket)

    assert outcome.accepted
    assert outcome.user == "alice"


def test_a_ticket_wins_over_a_cookie(key: str, header_http: Http, db: None) -> None:
    other = create_session({"value": "someone else's"})
    ticket = get_ticket(header_http, key)

    assert connect(ticket=ticket, cookie=other).user == "alice"


def test_a_ticket_works_once(key: str, header_http: Http) -> None:
    ticket = get_ticket(header_http, key)
    assert connect(ticket=ticket).accepted

    assert connect(ticket=ticket).code == CLOSE_TICKET_REFUSED


def test_an_expired_ticket_is_refused(key: str, header_http: Http) -> None:
    issued_long_ago = b62_encode(int(time.time()) - 31)
    with mock.patch.object(signing.TimestampSigner, "timestamp", return_value=issued_long_ago):
        ticket = get_ticket(header_http, key)

    assert connect(ticket=ticket).code == CLOSE_TICKET_REFUSED


@pytest.mark.parametrize("ticket", ["", "forged", "a" * 43 + ":1abcde:" + "b" * 43, "x" * 500])
def test_a_forged_ticket_is_refused(db: None, ticket: str) -> None:
    assert connect(ticket=ticket).code == CLOSE_TICKET_REFUSED


def test_a_ticket_from_another_ip_is_refused_and_used_up(
    key: str, header_http: Http, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="restricted_sessions")
    ticket = get_ticket(header_http, key)

    assert connect(ticket=ticket, ip=OTHER_IP).code == CLOSE_TICKET_REFUSED
    assert connect(ticket=ticket).code == CLOSE_TICKET_REFUSED
    assert "WebSocket ticket refused: the IP address differs" in caplog.text
    assert ticket not in caplog.text


def test_a_ticket_from_another_user_agent_is_refused(key: str, header_http: Http) -> None:
    ticket = get_ticket(header_http, key)

    assert connect(ticket=ticket, ua=OTHER_UA).code == CLOSE_TICKET_REFUSED


def test_a_ticket_does_not_outlive_its_session(key: str, header_http: Http) -> None:
    ticket = get_ticket(header_http, key)
    header_http.post("logout", key=key)

    outcome = connect(ticket=ticket)

    assert outcome.accepted
    assert outcome.user is None


def test_the_tickets_session_is_still_checked(db: None, header_http: Http) -> None:
    # A session bound elsewhere (replayed by a thief who got a ticket for it) is refused and flushed.
    key = create_session({"_restrictedsessions_ip": OTHER_IP, "_restrictedsessions_ua": DEFAULT_UA})
    with override_settings(RESTRICTEDSESSIONS_RESTRICT_IP=False):
        ticket = get_ticket(header_http, key)

    assert connect(ticket=ticket).code == CLOSE_RESTRICTED
    assert stored(key) == {}


# DUAL_STACK: a ticket checks both address families strictly -----------------------------------


@pytest.mark.parametrize(("asked_from", "redeemed_from"), [("192.0.2.1", "2001:db8::1"), ("2001:db8::1", "192.0.2.1")])
@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_a_ticket_is_refused_from_the_other_family(
    alice: Any, header_http: Http, asked_from: str, redeemed_from: str
) -> None:
    key = login(header_http, key="", ip=asked_from).headers[HEADER]
    ticket = get_ticket(header_http, key, ip=asked_from)

    assert connect(ticket=ticket, ip=redeemed_from).code == CLOSE_TICKET_REFUSED
    # Nothing was bound on "first use": the other family is still free for the session's owner.
    assert bound(stored(key)).ip2 is UNBOUND


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_a_ticket_is_refused_from_the_other_family_even_when_the_session_knows_it(
    alice: Any, header_http: Http
) -> None:
    key = login(header_http, key="", ip="192.0.2.1").headers[HEADER]
    assert header_http.get("whoami", key=key, ip="2001:db8::1").json() == {"user": "alice"}
    assert bound(stored(key)).ip2 == "2001:db8::1"
    ticket = get_ticket(header_http, key, ip="192.0.2.1")

    assert connect(ticket=ticket, ip="2001:db8::1").code == CLOSE_TICKET_REFUSED


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_with_dual_stack_a_ticket_works_from_its_own_family(alice: Any, header_http: Http) -> None:
    key = login(header_http, key="", ip="192.0.2.1").headers[HEADER]
    assert header_http.get("whoami", key=key, ip="2001:db8::1").json() == {"user": "alice"}

    assert connect(ticket=get_ticket(header_http, key, ip="2001:db8::1"), ip="2001:db8::1").user == "alice"
    assert connect(ticket=get_ticket(header_http, key, ip="192.0.2.1"), ip="192.0.2.1").user == "alice"


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_with_the_hashed_store_the_cache_holds_no_address(key: str, header_http: Http) -> None:
    get_ticket(header_http, key)

    # The test's own locmem cache, which pickles its values.
    entries = cache._cache.items()  # type: ignore[attr-defined]
    [value] = [pickle.loads(v) for k, v in entries if "ticket" in k]  # noqa: S301
    assert DEFAULT_IP not in str(value)
    assert DEFAULT_UA not in str(value)


@override_settings(
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        "shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tickets"},
    },
    RESTRICTEDSESSIONS_CACHE="shared",
)
def test_tickets_live_in_the_configured_cache(key: str, header_http: Http) -> None:
    # The default cache here forgets everything: the ticket works only from the "shared" one.
    assert connect(ticket=get_ticket(header_http, key)).user == "alice"


def test_async_views_issue_tickets_with_the_async_apis(key: str) -> None:
    request = RequestFactory().post("/", REMOTE_ADDR=DEFAULT_IP, HTTP_USER_AGENT=DEFAULT_UA)
    request.session = session_store(key)

    ticket = async_to_sync(aissue_ticket)(request)

    assert connect(ticket=ticket).user == "alice"


def test_without_auth_middleware_the_ticket_still_names_the_session(key: str, header_http: Http) -> None:
    from channels.sessions import SessionMiddlewareStack  # type: ignore[import-untyped]

    from restricted_sessions.channels import RestrictedSessionsMiddleware

    seen: list[Any] = []

    async def consumer(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "{}"})
        await receive()

    async def plain_session(scope: Any, receive: Any, send: Any) -> None:
        # Something other than Channels' SessionMiddleware: a session that is no LazyObject.
        scope = dict(scope, session=session_store(None))
        await RestrictedSessionsMiddleware(consumer)(scope, receive, send)

    for application in (SessionMiddlewareStack(RestrictedSessionsMiddleware(consumer)), plain_session):
        ticket = get_ticket(header_http, key)
        assert connect(ticket=ticket, application=application).accepted

    assert [scope["session"].session_key for scope in seen] == [key, key]
    assert all("user" not in scope for scope in seen)


# DPoP-bound header sessions --------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_a_dpop_bound_session_takes_its_proof_to_the_websocket_through_the_ticket(alice: Any) -> None:
    import httpx
    from django.core.wsgi import get_wsgi_application

    from restricted_sessions.dpop_client import DPoPSessionAuth

    auth = DPoPSessionAuth()
    transport = httpx.WSGITransport(app=get_wsgi_application(), remote_addr=DEFAULT_IP)
    with httpx.Client(transport=transport, base_url="http://testserver", headers={"User-Agent": DEFAULT_UA}) as site:
        assert site.post("/sync/login/", data={"username": "alice"}, auth=auth).status_code == 200
        assert bound(stored(auth.session_key or "")).jkt == auth.key.thumbprint()
        response = site.post("/ws-ticket/", auth=auth)
        assert response.status_code == 200

        outcome = connect(ticket=response.json()["ticket"])

        assert outcome.accepted
        assert outcome.user == "alice"
        # The stolen key without the private key gets no ticket.
        assert site.post("/ws-ticket/", headers={HEADER: auth.session_key or ""}).status_code == 401
