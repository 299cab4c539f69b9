"""restricted_sessions.checks: invalid settings are system-check errors, and stop the middleware early."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from restricted_sessions.middleware import RestrictedSessionsMiddleware, SessionMiddleware
from tests import settings as test_settings

SESSION = "restricted_sessions.middleware.SessionMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
RESTRICTED = "restricted_sessions.middleware.RestrictedSessionsMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"

RESTRICTED_BEFORE_SESSION = [RESTRICTED, SESSION, COMMON, AUTH]
RESTRICTED_BEFORE_AUTH = [SESSION, COMMON, RESTRICTED, AUTH]

BAD_SETTINGS: dict[str, dict[str, Any]] = {
    "ipv4-length-33": {"RESTRICTEDSESSIONS_IPV4_LENGTH": 33},
    "ipv4-length-negative": {"RESTRICTEDSESSIONS_IPV4_LENGTH": -1},
    "ipv4-length-str": {"RESTRICTEDSESSIONS_IPV4_LENGTH": "24"},
    "ipv6-length-129": {"RESTRICTEDSESSIONS_IPV6_LENGTH": 129},
    "ipv6-length-negative": {"RESTRICTEDSESSIONS_IPV6_LENGTH": -1},
    "ipv6-length-float": {"RESTRICTEDSESSIONS_IPV6_LENGTH": 64.0},
    "failure-status-str": {"RESTRICTEDSESSIONS_FAILURE_STATUS": "400"},
    "failure-status-none": {"RESTRICTEDSESSIONS_FAILURE_STATUS": None},
    "failure-status-float": {"RESTRICTEDSESSIONS_FAILURE_STATUS": 400.0},
    "authed-only-before-auth": {"RESTRICTEDSESSIONS_AUTHED_ONLY": True, "MIDDLEWARE": RESTRICTED_BEFORE_AUTH},
    "restricted-before-session": {"MIDDLEWARE": RESTRICTED_BEFORE_SESSION},
}


def our_errors() -> list[Any]:
    return [message for message in run_checks() if message.id and message.id.startswith("restricted_sessions.")]


def get_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


async def aget_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


@override_settings()
def test_the_test_settings_pass_every_check() -> None:
    assert our_errors() == []


@pytest.mark.parametrize("bad", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_an_invalid_setting_is_a_system_check_error(bad: dict[str, Any]) -> None:
    with override_settings(**bad):
        errors = our_errors()

    assert len(errors) == 1
    [error] = errors
    assert isinstance(error, Error)
    assert error.hint


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="no-such-view")
def test_a_redirect_view_that_cannot_be_reversed_is_a_system_check_error() -> None:
    [error] = our_errors()

    assert isinstance(error, Error)
    assert "no-such-view" in error.msg
    assert error.hint


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="landing")
def test_a_redirect_view_that_reverses_passes() -> None:
    assert our_errors() == []


@pytest.mark.parametrize(
    "valid",
    [
        {"RESTRICTEDSESSIONS_IPV4_LENGTH": 0},
        {"RESTRICTEDSESSIONS_IPV4_LENGTH": 32},
        {"RESTRICTEDSESSIONS_IPV6_LENGTH": 0},
        {"RESTRICTEDSESSIONS_IPV6_LENGTH": 128},
        {"RESTRICTEDSESSIONS_FAILURE_STATUS": 403},
        {"RESTRICTEDSESSIONS_SESSION_HEADER": None},
        {"RESTRICTEDSESSIONS_AUTHED_ONLY": True},
        {"MIDDLEWARE": RESTRICTED_BEFORE_AUTH},
    ],
    ids=[
        "v4-0",
        "v4-32",
        "v6-0",
        "v6-128",
        "status-403",
        "header-none",
        "authed-only",
        "before-auth-without-authed-only",
    ],
)
def test_valid_settings_pass(valid: dict[str, Any]) -> None:
    with override_settings(**valid):
        assert our_errors() == []


@override_settings(
    MIDDLEWARE=[
        "tests.middleware.ProjectSessionMiddleware",
        AUTH,
        "tests.middleware.ProjectRestrictedSessionsMiddleware",
    ],
    RESTRICTEDSESSIONS_AUTHED_ONLY=True,
)
def test_subclasses_count_in_the_middleware_order_check() -> None:
    assert our_errors() == []


@override_settings(MIDDLEWARE=["tests.middleware.ProjectRestrictedSessionsMiddleware", SESSION])
def test_a_subclass_of_the_restriction_middleware_before_the_session_middleware_is_an_error() -> None:
    assert len(our_errors()) == 1


def test_error_ids_are_distinct_per_problem() -> None:
    ids = set()
    for bad in (
        BAD_SETTINGS["ipv4-length-33"],
        BAD_SETTINGS["ipv6-length-129"],
        BAD_SETTINGS["failure-status-str"],
        BAD_SETTINGS["authed-only-before-auth"],
        BAD_SETTINGS["restricted-before-session"],
        {"RESTRICTEDSESSIONS_REDIRECT_VIEW": "no-such-view"},
    ):
        with override_settings(**bad):
            [error] = our_errors()
        ids.add(error.id)

    assert len(ids) == 6


# Building the middleware ----------------------------------------------------------------------

# REDIRECT_VIEW needs the URLconf, so only the system check reports it.
KNOWABLE_WITHOUT_URLCONF = BAD_SETTINGS

MIDDLEWARE_CLASSES: dict[str, type[Any]] = {
    "restriction": RestrictedSessionsMiddleware,
    "session": SessionMiddleware,
}


@pytest.mark.parametrize("responder", [get_response, aget_response], ids=["sync", "async"])
@pytest.mark.parametrize("bad", KNOWABLE_WITHOUT_URLCONF.values(), ids=KNOWABLE_WITHOUT_URLCONF.keys())
def test_building_the_restriction_middleware_with_an_invalid_setting_raises(
    bad: dict[str, Any], responder: Callable[..., Any]
) -> None:
    with override_settings(**bad), pytest.raises(ImproperlyConfigured):
        RestrictedSessionsMiddleware(responder)


@pytest.mark.parametrize("responder", [get_response, aget_response], ids=["sync", "async"])
@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="no-such-view")
def test_building_the_middleware_does_not_need_the_urlconf(responder: Callable[..., Any]) -> None:
    RestrictedSessionsMiddleware(responder)
    SessionMiddleware(responder)


@pytest.mark.parametrize("responder", [get_response, aget_response], ids=["sync", "async"])
@override_settings()
def test_building_with_valid_settings_works(responder: Callable[..., Any]) -> None:
    assert test_settings.MIDDLEWARE
    RestrictedSessionsMiddleware(responder)
    SessionMiddleware(responder)
