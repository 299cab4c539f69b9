"""The functions the engine calls: invitation, enforcement, unbinding and ending, sync and async."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from restricted_sessions.dbsc import protocol, session
from tests.dbsc.utils import CHROMIUM_JWK

ON = {"RESTRICTEDSESSIONS_DBSC": True, "ROOT_URLCONF": "tests.dbsc.urls"}
COOKIE = "__Host-rs-dbsc"


@pytest.fixture(autouse=True)
def _dbsc_on(db: None) -> Iterator[None]:
    with override_settings(**ON):
        yield


def bound_state(session_id: str = "s1", registered_at: float = 0.0) -> dict[str, Any]:
    return {"id": session_id, "alg": "ES256", "jwk": CHROMIUM_JWK, "registered_at": registered_at, "challenges": []}


def make_request(*, secure: bool = True, cookie: str | None = None, state: Any = None) -> Any:
    request = RequestFactory().get("/", secure=secure)
    if cookie is not None:
        request.COOKIES[COOKIE] = cookie
    request.session = SessionStore()
    if state is not None:
        request.session[session.SESSION_KEY] = state
    return request


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The sync functions, or the async ones run to completion."""
    names = ["registration_header", "bound_cookie_valid", "is_device_bound", "unbind"]
    if request.param == "sync":
        return {name: getattr(session, name) for name in names}
    return {name: async_to_sync(getattr(session, "a" + name)) for name in names}


def test_the_invitation_stores_a_challenge_and_names_the_endpoint(api: dict[str, Any]) -> None:
    request = make_request()
    header = api["registration_header"](request)
    (challenge, _), = request.session[session.SESSION_KEY]["challenges"]
    assert header == f'(ES256 RS256);path="/dbsc/registration/";challenge="{challenge}"'
    assert request.session.modified


@override_settings(RESTRICTEDSESSIONS_DBSC_ALGORITHMS=["ES256"])
def test_the_invitation_offers_the_configured_algorithms(api: dict[str, Any]) -> None:
    assert api["registration_header"](make_request()).startswith("(ES256);")


def test_no_invitation_over_plain_http(api: dict[str, Any]) -> None:
    request = make_request(secure=False)
    assert api["registration_header"](request) is None
    assert session.SESSION_KEY not in request.session


def test_no_invitation_when_dbsc_is_off(api: dict[str, Any]) -> None:
    with override_settings(RESTRICTEDSESSIONS_DBSC=False):
        assert api["registration_header"](make_request()) is None


def test_no_invitation_for_a_bound_session(api: dict[str, Any]) -> None:
    request = make_request(state=bound_state())
    assert api["registration_header"](request) is None
    assert request.session[session.SESSION_KEY] == bound_state()


def test_after_unbind_a_session_can_be_invited_again(api: dict[str, Any]) -> None:
    request = make_request(state=bound_state())
    api["unbind"](request.session)
    assert session.SESSION_KEY not in request.session
    assert api["registration_header"](request) is not None


def test_unrouted_endpoints_are_a_configuration_error_naming_the_fix() -> None:
    with override_settings(ROOT_URLCONF="tests.urls"), pytest.raises(ImproperlyConfigured, match="include"):
        session.registration_header(make_request())


def test_an_unbound_session_needs_no_bound_cookie(api: dict[str, Any]) -> None:
    assert api["bound_cookie_valid"](make_request(), SessionStore())
    assert api["bound_cookie_valid"](make_request(state={"challenges": []}), SessionStore())
    assert not api["is_device_bound"](make_request(state={"challenges": []}).session)


def test_a_bound_session_needs_its_bound_cookie(api: dict[str, Any]) -> None:
    without = make_request(state=bound_state())
    assert api["is_device_bound"](without.session)
    assert not api["bound_cookie_valid"](without, without.session)
    with_cookie = make_request(state=bound_state(), cookie=protocol.make_bound_cookie("s1"))
    assert api["bound_cookie_valid"](with_cookie, with_cookie.session)
    other = make_request(state=bound_state(), cookie=protocol.make_bound_cookie("s2"))
    assert not api["bound_cookie_valid"](other, other.session)


@override_settings(RESTRICTEDSESSIONS_DBSC_COOKIE_AGE=60)
def test_the_bound_cookie_lifetime_is_the_setting(api: dict[str, Any]) -> None:
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 60 - protocol.COOKIE_LEEWAY - 1):
        old = protocol.make_bound_cookie("s1")
    request = make_request(state=bound_state(), cookie=old)
    assert not api["bound_cookie_valid"](request, request.session)


def test_a_session_just_registered_is_let_through_without_its_cookie(api: dict[str, Any]) -> None:
    request = make_request(state=bound_state(registered_at=time.time()))
    assert api["bound_cookie_valid"](request, request.session)


def test_turning_dbsc_off_locks_nobody_out(api: dict[str, Any]) -> None:
    request = make_request(state=bound_state())
    with override_settings(RESTRICTEDSESSIONS_DBSC=False):
        assert api["bound_cookie_valid"](request, request.session)


def test_the_refusal_reason_is_dbsc() -> None:
    assert session.REASON == "dbsc"


def test_ending_expires_the_bound_cookie() -> None:
    response = HttpResponse()
    session.end_session(response)
    cookie = response.cookies[COOKIE]
    assert (cookie.value, cookie["max-age"], cookie["path"], cookie["secure"]) == ("", 0, "/", True)


def test_ending_does_nothing_when_dbsc_is_off() -> None:
    response = HttpResponse()
    with override_settings(RESTRICTEDSESSIONS_DBSC=False):
        session.end_session(response)
    assert COOKIE not in response.cookies
