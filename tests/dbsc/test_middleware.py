"""DBSC through the library's SessionMiddleware and RestrictedSessionsMiddleware, sync and async, over HTTPS.

The site is the test suite's (login, logout, whoami...) plus the DBSC endpoints. A browser here is
Django's Client or AsyncClient with a device key (tests.dbsc.utils.Device) that signs the proofs;
a thief is another client holding only a copy of the long-lived session cookie.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from restricted_sessions import enforcement
from restricted_sessions.conf import get_config
from restricted_sessions.dbsc import protocol
from restricted_sessions.dbsc.session import SESSION_KEY, unbind
from restricted_sessions.signals import session_restricted
from tests.conftest import DEFAULT_IP, DEFAULT_UA, Http, session_store, stored
from tests.dbsc.utils import Device
from tests.restriction_helpers import restriction_records

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

COOKIE = "__Host-rs-dbsc"
REFUSED = 400  # RESTRICTEDSESSIONS_FAILURE_STATUS's default


@pytest.fixture(autouse=True)
def dbsc_site(mode: str) -> Iterator[None]:
    urlconf = "tests.dbsc.middleware_urls" if mode == "sync" else "tests.dbsc.middleware_async_urls"
    with override_settings(ROOT_URLCONF=urlconf, RESTRICTEDSESSIONS_DBSC=True):
        yield


@pytest.fixture
def users(db: None) -> None:
    from django.contrib.auth import get_user_model

    for name in ("alice", "bob"):
        get_user_model().objects.create_user(username=name, password="unused")


class Owner:
    """A DBSC-capable browser: logs in over HTTPS, registers its device key, keeps every cookie."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.device = Device()
        self.session_id: str | None = None

    def get(self, name: str, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("secure", True)
        return self.http.get(name, **kwargs)

    def login(self, username: str = "alice", **kwargs: Any) -> TestResponse:
        kwargs.setdefault("secure", True)
        response = self.http.post("login", {"username": username}, **kwargs)
        assert response.status_code == 200
        return response

    def register(self, username: str = "alice") -> None:
        """Log in, register the device key, and let the registration grace period pass."""
        invitation = self.login(username)[protocol.REGISTRATION_HEADER]
        challenge = invitation.split('challenge="')[1].rstrip('"')
        proof = self.device.proof(challenge, registration=True)
        response = self.http.post("/dbsc/registration/", secure=True, headers={protocol.RESPONSE_HEADER: proof})
        assert response.status_code == 200
        assert response.cookies[COOKIE].value
        self.session_id = response.json()["session_identifier"]
        # The registration's grace period (protocol.REGISTRATION_GRACE) is over: bound cookies only.
        store = session_store(self.key)
        state = dict(store[SESSION_KEY])
        state["registered_at"] -= 60
        store[SESSION_KEY] = state
        store.save()

    @property
    def key(self) -> str:
        key = self.http.cookie_key
        assert key is not None
        return key

    @property
    def bound_cookie(self) -> str:
        return str(self.http.client.cookies[COOKIE].value)

    def user(self, **kwargs: Any) -> Any:
        response = self.get("whoami", **kwargs)
        assert response.status_code == 200
        return response.json()["user"]


@pytest.fixture
def owner(http: Http, users: None) -> Owner:
    return Owner(http)


@pytest.fixture
def thief(new_http: Callable[..., Http]) -> Callable[..., Http]:
    """``thief(key, **cookies)``: another client that holds a copy of session ``key`` (and maybe more)."""

    def make(key: str, **cookies: str) -> Http:
        http = new_http()
        http.client.cookies[settings.SESSION_COOKIE_NAME] = key
        for name, value in cookies.items():
            http.client.cookies[name] = value
        return http

    return make


@pytest.fixture
def signals() -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    session_restricted.connect(receiver)
    yield calls
    session_restricted.disconnect(receiver)


# The invitation --------------------------------------------------------------------------------


def test_a_login_over_https_invites_registration_with_a_challenge_the_session_holds(owner: Owner) -> None:
    invitation = owner.login()[protocol.REGISTRATION_HEADER]
    assert invitation.startswith('(ES256 RS256);path="/dbsc/registration/";challenge="')
    challenge = invitation.split('challenge="')[1].rstrip('"')
    assert [c for c, _ in stored(owner.key)[SESSION_KEY]["challenges"]] == [challenge]


def test_a_login_over_plain_http_is_not_invited(owner: Owner) -> None:
    response = owner.login(secure=False)
    assert protocol.REGISTRATION_HEADER not in response
    assert SESSION_KEY not in stored(owner.key)


def test_only_the_login_is_invited(owner: Owner, http: Http) -> None:
    anonymous = http.get("write", secure=True)
    assert anonymous.status_code == 200
    assert protocol.REGISTRATION_HEADER not in anonymous
    owner.login()
    written = owner.get("write")
    assert written.status_code == 200
    assert protocol.REGISTRATION_HEADER not in written


def test_a_login_into_a_session_already_device_bound_is_not_invited(owner: Owner) -> None:
    owner.register()
    # A session that is device-bound without a user (a site removed the user by hand), logged into anew:
    # Django's login keeps its data, and the device key stays the only one.
    store = session_store(owner.key)
    del store["_auth_user_id"]
    store.save()
    state_before = stored(owner.key)[SESSION_KEY]
    response = owner.login()
    assert protocol.REGISTRATION_HEADER not in response
    assert stored(owner.key)[SESSION_KEY]["jwk"] == state_before["jwk"]


# Enforcement -----------------------------------------------------------------------------------


def test_a_copied_session_cookie_is_refused_and_the_owner_stays_logged_in(
    owner: Owner, thief: Callable[..., Http], signals: list[dict[str, Any]]
) -> None:
    owner.register()
    assert owner.user() == "alice"
    stolen = thief(owner.key)
    for _ in range(2):
        assert stolen.get("whoami", secure=True).status_code == REFUSED
    assert [call["reason"] for call in signals] == ["dbsc", "dbsc"]  # refused for want of the cookie both times
    assert stored(owner.key)["_auth_user_id"]
    assert owner.user() == "alice"


def test_a_request_that_read_the_session_before_the_registration_does_not_undo_it(owner: Owner, mode: str) -> None:
    # Django saves a session whole: a request that loaded it before a concurrent registration and
    # saves it afterwards (a write, SESSION_SAVE_EVERY_REQUEST) would drop the registration, and
    # with it the need for a bound cookie. Played here step by step through the engine's shells.
    invitation = owner.login()[protocol.REGISTRATION_HEADER]
    config = get_config()
    request = RequestFactory().get("/", secure=True, REMOTE_ADDR=DEFAULT_IP, HTTP_USER_AGENT=DEFAULT_UA)
    request.session = stale = session_store(owner.key)
    examination = enforcement.examine(request, stale, config)
    assert examination is not None
    assert not examination.device_bound
    setattr(request, enforcement.REQUEST_ATTRIBUTE, examination)

    # Meanwhile the browser registers its key.
    proof = owner.device.proof(invitation.split('challenge="')[1].rstrip('"'), registration=True)
    registered = owner.http.post("/dbsc/registration/", secure=True, headers={protocol.RESPONSE_HEADER: proof})
    assert registered.status_code == 200
    stale["cart"] = 1
    if mode == "sync":
        enforcement.bind(request, HttpResponse(), stale, config)
    else:
        async_to_sync(enforcement.abind)(request, HttpResponse(), stale, config)
    stale.save()

    assert protocol.is_registered(stored(owner.key)[SESSION_KEY])
    assert stored(owner.key)["cart"] == 1


def test_a_session_unbound_on_purpose_is_saved_unbound(owner: Owner) -> None:
    # A request that read the session registered and removes the state (unbind) means it.
    owner.register()
    config = get_config()
    request = RequestFactory().get("/", secure=True, REMOTE_ADDR=DEFAULT_IP, HTTP_USER_AGENT=DEFAULT_UA)
    request.COOKIES[COOKIE] = owner.bound_cookie
    request.session = session = session_store(owner.key)
    examination = enforcement.examine(request, session, config)
    assert examination is not None
    assert examination.device_bound
    setattr(request, enforcement.REQUEST_ATTRIBUTE, examination)

    unbind(session)
    enforcement.bind(request, HttpResponse(), session, config)
    session.save()

    assert SESSION_KEY not in stored(owner.key)


def test_the_redirect_view_does_not_serve_a_copied_device_bound_session(
    owner: Owner, thief: Callable[..., Http], mode: str
) -> None:
    # REDIRECT_VIEW is served once a refused session is ended (a redirect to it would loop); a
    # device-bound session refused for its bound cookie is not ended, so it must not be served.
    owner.register()
    with override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW=f"{mode}:whoami"):
        stolen = thief(owner.key)
        refused = stolen.get("whoami", secure=True)
        redirected = stolen.get("read", secure=True)

        assert refused.status_code == REFUSED
        assert refused.content == b""
        assert redirected.status_code == 302
        assert owner.user() == "alice"


def test_a_bound_cookie_of_another_device_bound_session_does_not_open_this_one(
    owner: Owner, new_http: Callable[..., Http], thief: Callable[..., Http]
) -> None:
    owner.register("alice")
    other = Owner(new_http())
    other.register("bob")
    stolen = thief(owner.key, **{COOKIE: other.bound_cookie})
    assert stolen.get("whoami", secure=True).status_code == REFUSED
    assert other.user() == "bob"
    assert owner.user() == "alice"


@override_settings(RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_report_only_lets_the_copy_through_and_signals_not_enforced(
    owner: Owner, thief: Callable[..., Http], signals: list[dict[str, Any]]
) -> None:
    owner.register()
    response = thief(owner.key).get("whoami", secure=True)
    assert (response.status_code, response.json()["user"]) == (200, "alice")
    ((call,),) = [signals]
    assert (call["reason"], call["enforced"]) == ("dbsc", False)


def test_an_exempt_view_serves_the_copy(owner: Owner, thief: Callable[..., Http]) -> None:
    owner.register()
    stolen = thief(owner.key)
    assert stolen.get("exempt", secure=True).status_code == 200
    assert stolen.get("read", secure=True).status_code == REFUSED


@override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER="tests.failure_handlers.json_failure")
def test_the_failure_handler_hears_reason_dbsc(owner: Owner, thief: Callable[..., Http]) -> None:
    owner.register()
    response = thief(owner.key).get("whoami", secure=True)
    assert response.status_code == 401
    assert response.json()["reason"] == "dbsc"


def test_a_refusal_is_signalled_and_logged_with_reason_dbsc(
    owner: Owner, thief: Callable[..., Http], signals: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    owner.register()
    caplog.set_level(logging.WARNING, logger="restricted_sessions")
    thief(owner.key).get("whoami", secure=True)
    ((call,),) = [signals]
    assert (call["reason"], call["enforced"]) == ("dbsc", True)
    assert call["request"].path.endswith("/whoami/")
    (record,) = restriction_records(caplog)
    assert record.levelno == logging.WARNING
    assert "without a valid bound cookie" in record.getMessage()
    assert (record.reason, record.enforced) == ("dbsc", True)  # type: ignore[attr-defined]
    assert owner.key not in record.getMessage()


# The end ---------------------------------------------------------------------------------------


def test_logout_deletes_the_bound_cookie_and_the_next_refresh_ends_the_browser_session(owner: Owner) -> None:
    owner.register()
    response = owner.http.post("logout", secure=True)
    assert response.status_code == 200
    deleted = response.cookies[COOKIE]
    assert (deleted.value, deleted["max-age"], deleted["path"]) == ("", 0, "/")
    refresh = owner.http.post("/dbsc/refresh/", secure=True, headers={protocol.SESSION_ID_HEADER: owner.session_id})
    assert (refresh.status_code, refresh.json()) == (200, {"session_identifier": owner.session_id, "continue": False})


def test_logout_of_a_session_that_never_registered_sets_no_cookie(owner: Owner) -> None:
    owner.login()
    response = owner.http.post("logout", secure=True)
    assert COOKIE not in response.cookies


# Networks --------------------------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_DBSC_RESTRICT_IP=False)
def test_without_the_ip_check_the_owner_moves_networks_and_a_copy_from_elsewhere_is_still_refused(
    owner: Owner, thief: Callable[..., Http], signals: list[dict[str, Any]]
) -> None:
    owner.register()
    assert owner.user(ip="192.0.2.7") == "alice"
    assert thief(owner.key).get("whoami", secure=True, ip="198.51.100.9").status_code == REFUSED
    assert [call["reason"] for call in signals] == ["dbsc"]
    assert owner.user(ip="203.0.113.5") == "alice"


def test_with_the_ip_check_a_device_bound_session_that_moves_networks_is_refused(
    owner: Owner, signals: list[dict[str, Any]]
) -> None:
    owner.register()
    assert owner.get("whoami", ip="192.0.2.7").status_code == REFUSED
    assert [call["reason"] for call in signals] == ["ip"]


# Off -------------------------------------------------------------------------------------------


def test_with_dbsc_off_nothing_is_invited_or_refused(
    owner: Owner, new_http: Callable[..., Http], thief: Callable[..., Http]
) -> None:
    owner.register()
    with override_settings(RESTRICTEDSESSIONS_DBSC=False):
        response = thief(owner.key).get("whoami", secure=True)
        assert (response.status_code, response.json()["user"]) == (200, "alice")
        assert protocol.REGISTRATION_HEADER not in Owner(new_http()).login("bob")
