"""The registration and refresh endpoints through Django's test clients, sync and async alike."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client, override_settings

from restricted_sessions.dbsc import protocol, sfv, views
from restricted_sessions.dbsc.session import SESSION_KEY
from tests.dbsc.utils import CHROMIUM_REGISTRATION, Device
from tests.helpers import session_store

COOKIE = "__Host-rs-dbsc"
# Django's own session and CSRF middleware only: these tests are about the endpoints, not the engine.
ON = {
    "RESTRICTEDSESSIONS_DBSC": True,
    "MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
}


class Browser:
    """A DBSC-capable browser over Django's Client or AsyncClient (HTTPS), with its device key."""

    def __init__(self, mode: str, device: Device | None = None) -> None:
        self.mode = mode
        self.client: Any = Client() if mode == "sync" else AsyncClient()
        self.device = device or Device()
        self.session_id: str | None = None

    def request(self, method: str, path: str, **headers: str) -> Any:
        call = getattr(self.client, method)
        if self.mode == "async":
            call = async_to_sync(call)
        return call(path, secure=True, headers=headers)

    def login(self) -> str:
        response = self.request("get", "/login/")
        params = response[protocol.REGISTRATION_HEADER]
        return str(params.split('challenge="')[1].rstrip('"'))

    def register(self) -> Any:
        challenge = self.login()
        response = self.request(
            "post", "/dbsc/registration/", **{protocol.RESPONSE_HEADER: self.device.proof(challenge, registration=True)}
        )
        if response.status_code == 200:
            self.session_id = response.json()["session_identifier"]
        return response

    def refresh(self, challenge: str | None = None, session_id: str | None = None) -> Any:
        headers = {protocol.SESSION_ID_HEADER: session_id or self.session_id or ""}
        if challenge is not None:
            headers[protocol.RESPONSE_HEADER] = self.device.proof(challenge)
        return self.request("post", "/dbsc/refresh/", **headers)

    def state(self) -> Any:
        return self.client.session.get(SESSION_KEY)


def challenge_of(response: Any) -> str:
    item = sfv.parse_text_item(response[protocol.CHALLENGE_HEADER])
    assert item is not None
    return item


@pytest.fixture(params=["sync", "async"])
def browser(request: pytest.FixtureRequest, db: None) -> Iterator[Browser]:
    urlconf = "tests.dbsc.urls" if request.param == "sync" else "tests.dbsc.async_urls"
    with override_settings(ROOT_URLCONF=urlconf, **ON):
        yield Browser(str(request.param))


# Registration -------------------------------------------------------------------------------------


def test_login_invites_registration_with_a_challenge_held_by_the_session(browser: Browser) -> None:
    challenge = browser.login()
    assert browser.state()["challenges"][0][0] == challenge
    response = browser.request("get", "/login/")
    assert response[protocol.REGISTRATION_HEADER].startswith('(ES256 RS256);path="/dbsc/registration/";challenge="')


def test_registration_answers_the_instructions_the_first_bound_cookie_and_a_challenge(browser: Browser) -> None:
    response = browser.register()
    assert response.status_code == 200
    body = response.json()
    assert body == protocol.instructions(
        body["session_identifier"], "/dbsc/refresh/", COOKIE, "Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    cookie = response.cookies[COOKIE]
    assert (cookie["secure"], cookie["httponly"], cookie["path"], cookie["samesite"]) == (True, True, "/", "Lax")
    assert cookie["max-age"] == 600
    assert protocol.bound_cookie_matches(cookie.value, body["session_identifier"], 600)
    assert "no-store" in response["Cache-Control"]
    state = browser.state()
    assert (state["id"], state["alg"], state["jwk"]) == (body["session_identifier"], "ES256", browser.device.jwk)
    assert state["challenges"] == [[challenge_of(response), mock.ANY]]
    assert sfv.parse_text_item(response[protocol.CHALLENGE_HEADER].split(";")[1].removeprefix("id=")) == (
        body["session_identifier"]
    )


@override_settings(RESTRICTEDSESSIONS_DBSC_COOKIE_AGE=10**9)
def test_the_bound_cookie_never_outlives_the_session(browser: Browser) -> None:
    response = browser.register()
    assert response.cookies[COOKIE]["max-age"] == 1209600  # SESSION_COOKIE_AGE


def test_a_session_registers_one_key_only(browser: Browser) -> None:
    assert browser.register().status_code == 200
    registered = browser.state()
    assert protocol.REGISTRATION_HEADER not in browser.request("get", "/login/")
    challenge = registered["challenges"][0][0]
    other = Device()
    response = browser.request(
        "post", "/dbsc/registration/", **{protocol.RESPONSE_HEADER: other.proof(challenge, registration=True)}
    )
    assert response.status_code == 400
    assert browser.state()["jwk"] == browser.device.jwk


def test_a_registration_challenge_is_single_use(browser: Browser) -> None:
    challenge = browser.login()
    proof = browser.device.proof(challenge, registration=True)
    browser.client.cookies.pop("sessionid")
    browser.login()  # a new session: the old challenge is not its own
    assert browser.request("post", "/dbsc/registration/", **{protocol.RESPONSE_HEADER: proof}).status_code == 400


def test_a_registration_challenge_expires(browser: Browser) -> None:
    challenge = browser.login()
    proof = browser.device.proof(challenge, registration=True)
    with mock.patch("restricted_sessions.dbsc.views.time.time", return_value=time.time() + 301):
        response = browser.request("post", "/dbsc/registration/", **{protocol.RESPONSE_HEADER: proof})
    assert response.status_code == 400


# A JWT header nested deeper than Python's JSON parser goes (RecursionError, not ValueError).
NESTED = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode() + ".e30.AA"


@pytest.mark.parametrize(
    "proof", [None, "", "junk", CHROMIUM_REGISTRATION, "e" * 100_000, '"unterminated', "a.b.c", NESTED]
)
def test_bad_registrations_get_400(browser: Browser, proof: str | None) -> None:
    browser.login()
    headers = {} if proof is None else {protocol.RESPONSE_HEADER: proof}
    response = browser.request("post", "/dbsc/registration/", **headers)
    assert response.status_code == 400
    assert not protocol.is_registered(browser.state())


def test_registration_without_a_session_gets_400(browser: Browser) -> None:
    proof = browser.device.proof("c", registration=True)
    assert browser.request("post", "/dbsc/registration/", **{protocol.RESPONSE_HEADER: proof}).status_code == 400


def test_a_huge_body_is_never_read(browser: Browser) -> None:
    challenge = browser.login()
    call = browser.client.post
    if browser.mode == "async":
        call = async_to_sync(call)
    response = call(
        "/dbsc/registration/", b"x" * 5_000_000, content_type="application/octet-stream", secure=True,
        headers={protocol.RESPONSE_HEADER: browser.device.proof(challenge, registration=True)},
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/dbsc/registration/", "/dbsc/refresh/"])
def test_the_endpoints_take_post_only(browser: Browser, path: str) -> None:
    assert browser.request("get", path).status_code == 405


@pytest.mark.parametrize("path", ["/dbsc/registration/", "/dbsc/refresh/"])
def test_the_endpoints_are_off_with_dbsc(browser: Browser, path: str) -> None:
    with override_settings(RESTRICTEDSESSIONS_DBSC=False):
        assert browser.request("post", path).status_code == 404
        assert protocol.REGISTRATION_HEADER not in browser.request("get", "/login/")


def test_the_endpoints_need_no_csrf_token(db: None) -> None:
    with override_settings(ROOT_URLCONF="tests.dbsc.urls", **ON):
        browser = Browser("sync")
        browser.client = Client(enforce_csrf_checks=True)
        assert browser.register().status_code == 200
        response = browser.refresh()
        assert response.status_code == 403


# Refresh ------------------------------------------------------------------------------------------


def test_refresh_without_a_proof_gets_a_challenge_then_a_proof_gets_a_cookie(browser: Browser) -> None:
    browser.register()
    challenged = browser.refresh()
    assert challenged.status_code == 403
    assert challenged[protocol.CHALLENGE_HEADER].endswith(f';id="{browser.session_id}"')
    assert COOKIE not in challenged.cookies
    refreshed = browser.refresh(challenge_of(challenged))
    assert refreshed.status_code == 200
    assert refreshed.json()["session_identifier"] == browser.session_id
    assert protocol.bound_cookie_matches(refreshed.cookies[COOKIE].value, browser.session_id or "", 600)


def test_the_challenge_sent_with_a_cookie_serves_the_next_refresh(browser: Browser) -> None:
    registered = browser.register()
    refreshed = browser.refresh(challenge_of(registered))
    assert refreshed.status_code == 200
    assert browser.refresh(challenge_of(refreshed)).status_code == 200


def test_a_proof_of_the_previous_challenge_is_accepted_once(browser: Browser) -> None:
    previous = challenge_of(browser.register())
    current = challenge_of(browser.refresh("unknown"))  # a refused proof: a new challenge meanwhile
    assert current != previous
    assert browser.refresh(previous).status_code == 200
    assert browser.refresh(current).status_code == 200
    assert browser.refresh(previous).status_code == 403  # used: a new challenge instead


def test_a_refresh_without_a_proof_gets_the_current_challenge_again(browser: Browser) -> None:
    # Anyone holding a copy of the session cookie may ask: asking must not void the challenge
    # the browser is signing.
    current = challenge_of(browser.register())
    assert [challenge_of(browser.refresh()) for _ in range(3)] == [current] * 3
    assert browser.refresh(current).status_code == 200


def test_a_refresh_without_a_proof_after_the_current_challenge_expired_gets_a_new_one(browser: Browser) -> None:
    expired = challenge_of(browser.register())
    with mock.patch("restricted_sessions.dbsc.views.time.time", return_value=time.time() + 301):
        fresh = challenge_of(browser.refresh())
    assert fresh != expired


def _restore(browser: Browser, state: Any) -> None:
    """What a concurrent request that read the session earlier does when it saves it: the old state."""
    store = session_store(browser.client.cookies[settings.SESSION_COOKIE_NAME].value)
    store[SESSION_KEY] = state
    store.save()


def test_a_challenge_answered_once_stays_used_after_a_stale_save_restores_it(browser: Browser) -> None:
    challenge = challenge_of(browser.register())
    before = browser.state()
    proof = browser.device.proof(challenge)
    headers = {protocol.SESSION_ID_HEADER: browser.session_id or "", protocol.RESPONSE_HEADER: proof}
    assert browser.request("post", "/dbsc/refresh/", **headers).status_code == 200

    _restore(browser, before)
    again = browser.request("post", "/dbsc/refresh/", **headers)

    assert again.status_code == 403
    assert COOKIE not in again.cookies


def test_a_refresh_without_a_proof_never_offers_a_challenge_a_stale_save_revived(browser: Browser) -> None:
    challenge = challenge_of(browser.register())
    before = browser.state()
    assert browser.refresh(challenge).status_code == 200
    _restore(browser, before)

    offered = browser.refresh()

    assert offered.status_code == 403
    assert challenge_of(offered) != challenge
    assert browser.refresh(challenge_of(offered)).status_code == 200


@override_settings(
    MIDDLEWARE=["restricted_sessions.middleware.SessionMiddleware", "django.middleware.csrf.CsrfViewMiddleware"]
)
def test_a_refresh_whose_session_a_concurrent_logout_deleted_ends_the_browsers_session(db: None) -> None:
    # The refresh read the session, a logout deleted it, the refresh's answer cannot be saved:
    # the device-bound session has ended, which the browser is told (not Django's 400). The
    # logout is played in the view's thread, so this runs the sync view (the async one shares
    # the code: the library's SessionMiddleware answers SessionInterrupted alike).
    with override_settings(ROOT_URLCONF="tests.dbsc.urls", **{**ON, "MIDDLEWARE": settings.MIDDLEWARE}):
        browser = Browser("sync")
        challenge = challenge_of(browser.register())
        key = browser.client.cookies[settings.SESSION_COOKIE_NAME].value
        answer = views.answer_refresh

        def answer_then_logout_elsewhere(*args: Any, **kwargs: Any) -> Any:
            found = answer(*args, **kwargs)
            session_store(key).delete()
            return found

        with mock.patch("restricted_sessions.dbsc.views.answer_refresh", answer_then_logout_elsewhere):
            ended = browser.refresh(challenge)

    assert ended.status_code == 200
    assert ended.json() == {"session_identifier": browser.session_id, "continue": False}
    assert COOKIE not in ended.cookies


UNREACHABLE = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "unreachable": {"BACKEND": "tests.helpers.UnreachableCache"},
}


def test_with_the_cache_down_a_valid_refresh_still_gets_its_cookie(
    browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    challenge = challenge_of(browser.register())
    with override_settings(CACHES=UNREACHABLE, RESTRICTEDSESSIONS_CACHE="unreachable"):
        offered = browser.refresh()
        renewed = browser.refresh(challenge)
        replayed = browser.refresh(challenge)

    assert challenge_of(offered) == challenge
    assert renewed.status_code == 200
    assert COOKIE in renewed.cookies
    assert replayed.status_code == 403  # the session's own record still refuses a replay
    assert "DBSC challenges are checked against the session only" in caplog.text


def test_a_registration_challenge_answered_once_stays_used_after_a_stale_save_restores_it(browser: Browser) -> None:
    challenge = browser.login()
    before = browser.state()
    proof = browser.device.proof(challenge, registration=True)
    assert browser.request("post", "/dbsc/registration/", **{protocol.RESPONSE_HEADER: proof}).status_code == 200

    _restore(browser, before)

    assert browser.request("post", "/dbsc/registration/", **{protocol.RESPONSE_HEADER: proof}).status_code == 400
    assert not protocol.is_registered(browser.state())


def test_a_replayed_proof_gets_a_new_challenge_not_a_cookie(browser: Browser) -> None:
    challenge = challenge_of(browser.register())
    proof = browser.device.proof(challenge)
    headers = {protocol.SESSION_ID_HEADER: browser.session_id or "", protocol.RESPONSE_HEADER: proof}
    assert browser.request("post", "/dbsc/refresh/", **headers).status_code == 200
    again = browser.request("post", "/dbsc/refresh/", **headers)
    assert again.status_code == 403
    assert COOKIE not in again.cookies


def test_a_stale_challenge_gets_a_new_one(browser: Browser) -> None:
    challenge = challenge_of(browser.register())
    with mock.patch("restricted_sessions.dbsc.views.time.time", return_value=time.time() + 301):
        response = browser.refresh(challenge)
    assert response.status_code == 403


def test_a_proof_by_another_key_gets_400(browser: Browser) -> None:
    challenge = challenge_of(browser.register())
    browser.device = Device()
    assert browser.refresh(challenge).status_code == 400


def test_a_proof_carrying_another_key_in_its_header_gets_400(browser: Browser) -> None:
    challenge = challenge_of(browser.register())
    thief = Device()
    headers = {
        protocol.SESSION_ID_HEADER: browser.session_id or "",
        protocol.RESPONSE_HEADER: thief.proof(challenge, registration=True),
    }
    assert browser.request("post", "/dbsc/refresh/", **headers).status_code == 400


def test_an_unknown_session_identifier_ends_the_browser_session(browser: Browser) -> None:
    browser.register()
    response = browser.refresh(session_id="s0000")
    assert response.status_code == 200
    assert response.json() == {"session_identifier": "s0000", "continue": False}
    assert COOKIE not in response.cookies


def test_after_logout_the_refresh_ends_the_browser_session(browser: Browser) -> None:
    browser.register()
    browser.client.cookies.pop("sessionid")  # logged out: the session is gone
    response = browser.refresh()
    assert response.json() == {"session_identifier": browser.session_id, "continue": False}


@pytest.mark.parametrize("session_id", [None, "", '"open', "a b", "(x)"])
def test_refresh_without_a_valid_identifier_gets_400(browser: Browser, session_id: str | None) -> None:
    browser.register()
    headers = {} if session_id is None else {protocol.SESSION_ID_HEADER: session_id}
    assert browser.request("post", "/dbsc/refresh/", **headers).status_code == 400


def test_refresh_accepts_the_identifier_as_an_sf_string(browser: Browser) -> None:
    browser.register()
    assert browser.refresh(session_id=f'"{browser.session_id}"').status_code == 403


@pytest.mark.parametrize("proof", ["", "junk", "e" * 100_000, "a.b.c", CHROMIUM_REGISTRATION, NESTED])
def test_malformed_refresh_proofs_get_400(browser: Browser, proof: str) -> None:
    browser.register()
    headers = {protocol.SESSION_ID_HEADER: browser.session_id or "", protocol.RESPONSE_HEADER: proof}
    assert browser.request("post", "/dbsc/refresh/", **headers).status_code == 400


@pytest.mark.parametrize("alg", ["RS256"])
def test_an_rsa_device_registers_and_refreshes(db: None, alg: str) -> None:
    with override_settings(ROOT_URLCONF="tests.dbsc.urls", **ON):
        browser = Browser("sync", Device(alg))
        registered = browser.register()
        assert registered.status_code == 200
        assert browser.refresh(challenge_of(registered)).status_code == 200
