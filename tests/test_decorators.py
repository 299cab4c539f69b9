"""restricted_sessions.decorators.restriction_exempt: views that a changed binding never blocks.

Like ``csrf_exempt``: for logout, health checks and webhooks. A request to an exempt view whose
session no longer matches its binding is neither refused nor flushed, and the binding stays as it
was, so the very next request to any other view is still refused. Exemption is decided from the
view Django really resolves (``request.urlconf`` included); a path that looks exempt but whose view
is never reached is refused.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from restricted_sessions.decorators import restriction_exempt
from tests import settings as test_settings
from tests import views
from tests.helpers import (
    HEADER,
    Http,
    assert_restricted,
    bound,
    bound_cookie_session,
    bound_ip,
    kept,
    signal_calls,
    stored,
    ua_token,
)

pytestmark = pytest.mark.django_db

EXEMPT_VIEWS = ["exempt", "exempt-cbv"]


# The decorator itself -----------------------------------------------------------------------------


def test_it_marks_a_sync_view_and_keeps_it_sync() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        """A view."""
        return HttpResponse()

    exempt = restriction_exempt(view)

    assert exempt.restriction_exempt is True  # type: ignore[attr-defined]
    assert not iscoroutinefunction(exempt)
    assert exempt.__name__ == "view"
    assert exempt.__doc__ == "A view."


def test_it_marks_an_async_view_and_keeps_it_async() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    exempt = restriction_exempt(view)

    assert exempt.restriction_exempt is True  # type: ignore[attr-defined]
    assert iscoroutinefunction(exempt)


def test_it_marks_the_result_of_as_view_and_keeps_it_sync_or_async() -> None:
    assert views.exempt_read_cbv.restriction_exempt is True  # type: ignore[attr-defined]
    assert not iscoroutinefunction(views.exempt_read_cbv)
    assert iscoroutinefunction(views.aexempt_read_cbv)
    assert views.exempt_read_cbv.view_class is views.ReadView  # type: ignore[attr-defined]


def test_it_keeps_other_view_markers() -> None:
    assert views.exempt_logout.csrf_exempt is True  # type: ignore[attr-defined]


def test_an_undecorated_view_is_not_exempt() -> None:
    assert getattr(views.read, "restriction_exempt", False) is False


# Through the middleware ------------------------------------------------------------------------------


@pytest.mark.parametrize("view", EXEMPT_VIEWS)
def test_an_exempt_view_answers_a_changed_session_with_its_data(http: Http, view: str) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")

    response = http.get(view, ip="198.51.100.1", ua="Browser B")

    assert kept(response) == {"value": "mine"}
    assert stored(key)["value"] == "mine"


@pytest.mark.parametrize("view", EXEMPT_VIEWS)
def test_an_exempt_view_leaves_the_binding_as_it_was(http: Http, view: str) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")

    http.get(view, ip="198.51.100.1", ua="Browser B")

    assert bound_ip(stored(key)) == "192.0.2.7"
    assert bound(stored(key)).ua == ua_token("Browser A")


@pytest.mark.parametrize("view", EXEMPT_VIEWS)
def test_other_views_still_refuse_the_changed_session(http: Http, view: str) -> None:
    key = bound_cookie_session(http, ip="192.0.2.7")
    http.get(view, ip="198.51.100.1")

    assert_restricted(http.get("read", ip="198.51.100.1"), key)


@pytest.mark.parametrize("view", EXEMPT_VIEWS)
def test_the_owner_keeps_the_session_after_a_changed_request_to_an_exempt_view(http: Http, view: str) -> None:
    bound_cookie_session(http, ip="192.0.2.7")
    http.get(view, ip="198.51.100.1")

    assert kept(http.get("read", ip="192.0.2.7")) == {"value": "mine"}


@pytest.mark.parametrize("view", EXEMPT_VIEWS)
def test_an_exempt_view_serves_a_matching_session_as_usual(http: Http, view: str) -> None:
    bound_cookie_session(http)

    assert kept(http.get(view)) == {"value": "mine"}


@pytest.mark.parametrize("view", EXEMPT_VIEWS)
def test_an_exempt_view_serves_a_header_session_from_elsewhere(header_http: Http, view: str) -> None:
    key = header_http.get("write", ip="192.0.2.7", key="").headers[HEADER]

    response = header_http.get(view, key=key, ip="198.51.100.1")

    assert kept(response) == {"value": "x"}
    assert response.headers.get(HEADER) != ""
    assert bound_ip(stored(key)) == "192.0.2.7"


def test_a_user_can_always_log_out_through_an_exempt_logout_view(http: Http, alice: object) -> None:
    http.post("login", {"username": "alice"}, ip="192.0.2.7")
    key = http.cookie_key
    assert key

    response = http.post("exempt-logout", ip="198.51.100.1")

    assert response.status_code == 200
    assert response.json() == {"user": None}
    assert stored(key) == {}


def test_a_session_an_exempt_login_starts_anew_is_bound_to_the_client_that_made_it(
    http: Http, alice: object, bob: object, new_http: Callable[..., Http]
) -> None:
    # Logging in as another user flushes the changed session and starts a new one: a new session
    # is bound by the response that first saves it, here as on any view (it was saved unbound).
    http.post("login", {"username": "alice"}, ip="192.0.2.7", ua="Browser A")
    response = http.post("exempt-login", {"username": "bob"}, ip="198.51.100.1", ua="Browser A")
    assert response.json() == {"user": "bob"}
    key = http.cookie_key
    assert key

    assert bound_ip(stored(key)) == "198.51.100.1"
    assert bound(stored(key)).ua == ua_token("Browser A")
    assert http.get("whoami", ip="198.51.100.1", ua="Browser A").json() == {"user": "bob"}
    thief = new_http(cookies=False)
    assert_restricted(thief.get("whoami", key=key, ip="203.0.113.66", ua="curl/8.0"), key)


def test_a_login_into_an_anonymous_session_on_an_exempt_view_binds_it_to_the_client_that_logged_in(
    http: Http, alice: object, new_http: Callable[..., Http]
) -> None:
    # Django's login() keeps an anonymous session's data under a new key (cycle_key): the session
    # is a user's from now on, bound like any login, not to the client that started it.
    bound_cookie_session(http, ip="192.0.2.7", ua="Browser A")
    assert http.post("exempt-login", {"username": "alice"}, ip="198.51.100.1", ua="Browser B").status_code == 200
    key = http.cookie_key
    assert key

    assert bound_ip(stored(key)) == "198.51.100.1"
    assert bound(stored(key)).ua == ua_token("Browser B")
    assert stored(key)["value"] == "mine"
    assert http.get("whoami", ip="198.51.100.1", ua="Browser B").json() == {"user": "alice"}
    assert_restricted(new_http().get("whoami", key=key, ip="192.0.2.7", ua="Browser A"), key)


def test_a_login_as_the_same_user_on_an_exempt_view_keeps_the_binding_it_holds(http: Http, alice: object) -> None:
    # Django's login() keeps the data of the same user's session (cycle_key): its binding stays.
    http.post("login", {"username": "alice"}, ip="192.0.2.7", ua="Browser A")
    http.post("exempt-login", {"username": "alice"}, ip="198.51.100.1", ua="Browser A")
    key = http.cookie_key
    assert key

    assert bound_ip(stored(key)) == "192.0.2.7"
    assert_restricted(http.get("whoami", ip="198.51.100.1", ua="Browser A"), key)


@override_settings(RESTRICTEDSESSIONS_AUTHED_ONLY=True)
def test_with_authed_only_an_exempt_view_keeps_the_user_logged_in(http: Http, alice: object) -> None:
    http.post("login", {"username": "alice"}, ip="192.0.2.7")

    assert kept(http.get("exempt", ip="198.51.100.1")) == {}
    assert http.get("whoami", ip="192.0.2.7").json() == {"user": "alice"}


# Exemption follows the view Django resolves, also through request.urlconf --------------------------

SWAP = {"X-Swap-Urlconf": "1"}
RESTRICTION_AT = test_settings.MIDDLEWARE.index("restricted_sessions.middleware.RestrictedSessionsMiddleware")
SWAP_AFTER = [*test_settings.MIDDLEWARE, "tests.middleware.SwapUrlconfMiddleware"]
SWAP_BEFORE = [
    *test_settings.MIDDLEWARE[:RESTRICTION_AT],
    "tests.middleware.SwapUrlconfMiddleware",
    *test_settings.MIDDLEWARE[RESTRICTION_AT:],
]


@override_settings(MIDDLEWARE=SWAP_AFTER)
def test_a_path_exempt_in_root_urlconf_but_not_in_request_urlconf_is_refused(http: Http) -> None:
    key = bound_cookie_session(http)

    response = http.get("exempt", ua="Thief", headers=SWAP)

    assert_restricted(response, key)
    assert b"mine" not in response.content


@override_settings(MIDDLEWARE=SWAP_AFTER)
def test_a_path_exempt_in_root_urlconf_that_request_urlconf_does_not_resolve_is_refused(http: Http) -> None:
    key = bound_cookie_session(http)

    response = http.get("exempt-cbv", ua="Thief", headers=SWAP)

    assert_restricted(response, key)


@override_settings(MIDDLEWARE=SWAP_AFTER)
def test_a_path_exempt_only_through_a_request_urlconf_set_after_the_restriction_is_refused(http: Http) -> None:
    """Documented: a change is decided before later middleware runs unless the path looks exempt then."""
    key = bound_cookie_session(http)

    response = http.get("read", ua="Thief", headers=SWAP)

    assert_restricted(response, key)


@override_settings(MIDDLEWARE=SWAP_BEFORE)
def test_a_path_exempt_through_a_request_urlconf_set_before_the_restriction_is_served(http: Http) -> None:
    key = bound_cookie_session(http, ua="Browser A")
    before = stored(key)

    response = http.get("read", ua="Thief", headers=SWAP)

    assert kept(response) == {"value": "mine"}
    assert stored(key) == before
    assert http.get("read", ua="Thief").status_code == 400


@override_settings(MIDDLEWARE=SWAP_AFTER, RESTRICTEDSESSIONS_REPORT_ONLY=True)
def test_with_report_only_a_path_exempt_in_root_urlconf_that_is_never_reached_is_only_reported(http: Http) -> None:
    key = bound_cookie_session(http)
    before = stored(key)

    with signal_calls() as calls:
        response = http.get("exempt-cbv", ua="Thief", headers=SWAP)

    assert response.status_code == 404
    assert [call["enforced"] for call in calls] == [False]
    assert stored(key) == before
