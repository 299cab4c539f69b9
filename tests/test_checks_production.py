"""System checks and start-up errors for the production settings (issue 3): E011 to E015.

An invalid value is reported by ``manage.py check`` (with ``restricted_sessions`` in
INSTALLED_APPS) and stops RestrictedSessionsMiddleware from being built, with ImproperlyConfigured,
so it never surfaces as a 500 at request time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from restricted_sessions.middleware import RestrictedSessionsMiddleware

# setting -> bad values -> the check id that reports them
INVALID: dict[str, tuple[str, str, Any]] = {
    "trusted-proxies-not-an-address": ("TRUSTED_PROXIES", "restricted_sessions.E011", ["not-an-ip"]),
    "trusted-proxies-prefix-out-of-range": ("TRUSTED_PROXIES", "restricted_sessions.E011", ["10.0.0.0/33"]),
    "trusted-proxies-with-port": ("TRUSTED_PROXIES", "restricted_sessions.E011", ["10.0.0.1:8080"]),
    "trusted-proxies-a-string": ("TRUSTED_PROXIES", "restricted_sessions.E011", "10.0.0.0/8"),
    "trusted-proxies-not-strings": ("TRUSTED_PROXIES", "restricted_sessions.E011", [167772161]),
    "trusted-proxies-none": ("TRUSTED_PROXIES", "restricted_sessions.E011", None),
    "trusted-proxies-one-bad-among-good": (
        "TRUSTED_PROXIES",
        "restricted_sessions.E011",
        ["10.0.0.0/8", "proxy.internal"],
    ),
    "exempt-networks-not-an-address": ("IP_EXEMPT_NETWORKS", "restricted_sessions.E012", ["carrier"]),
    "exempt-networks-prefix-out-of-range": ("IP_EXEMPT_NETWORKS", "restricted_sessions.E012", ["2001:db8::/129"]),
    "exempt-networks-a-string": ("IP_EXEMPT_NETWORKS", "restricted_sessions.E012", "100.64.0.0/10"),
    "exempt-networks-none": ("IP_EXEMPT_NETWORKS", "restricted_sessions.E012", None),
    "ua-match-unknown": ("UA_MATCH", "restricted_sessions.E013", "fuzzy"),
    "ua-match-wrong-case": ("UA_MATCH", "restricted_sessions.E013", "EXACT"),
    "ua-match-none": ("UA_MATCH", "restricted_sessions.E013", None),
    "ua-match-bool": ("UA_MATCH", "restricted_sessions.E013", True),
    "store-unknown": ("STORE", "restricted_sessions.E014", "encrypted"),
    "store-none": ("STORE", "restricted_sessions.E014", None),
    "store-bool": ("STORE", "restricted_sessions.E014", True),
    "failure-handler-no-module": ("FAILURE_HANDLER", "restricted_sessions.E015", "tests.no_such_module.handler"),
    "failure-handler-no-attribute": ("FAILURE_HANDLER", "restricted_sessions.E015", "tests.failure_handlers.nope"),
    "failure-handler-not-callable": (
        "FAILURE_HANDLER",
        "restricted_sessions.E015",
        "tests.failure_handlers.NOT_CALLABLE",
    ),
    "failure-handler-not-a-path": ("FAILURE_HANDLER", "restricted_sessions.E015", "handler"),
    "failure-handler-a-function-not-a-path": ("FAILURE_HANDLER", "restricted_sessions.E015", print),
}

# The issue-3 booleans share the check of every boolean setting.
INVALID_BOOLEANS: dict[str, tuple[str, Any]] = {
    "dual-stack-string": ("DUAL_STACK", "yes"),
    "dual-stack-int": ("DUAL_STACK", 1),
    "report-only-string": ("REPORT_ONLY", "False"),
    "report-only-none": ("REPORT_ONLY", None),
}

VALID: dict[str, dict[str, Any]] = {
    "trusted-proxies-networks-and-addresses": {"TRUSTED_PROXIES": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "::1"]},
    "trusted-proxies-tuple": {"TRUSTED_PROXIES": ("10.0.0.0/8",)},
    "trusted-proxies-host-bits-set": {"TRUSTED_PROXIES": ["10.1.2.3/8"]},
    "exempt-networks": {"IP_EXEMPT_NETWORKS": ["100.64.0.0/10", "2001:db8::/32"]},
    "ua-match-exact": {"UA_MATCH": "exact"},
    "ua-match-ignore-versions": {"UA_MATCH": "ignore_versions"},
    "store-raw": {"STORE": "raw"},
    "store-hashed": {"STORE": "hashed"},
    "failure-handler-sync": {"FAILURE_HANDLER": "tests.failure_handlers.json_failure"},
    "failure-handler-async": {"FAILURE_HANDLER": "tests.failure_handlers.ajson_failure"},
    "dual-stack": {"DUAL_STACK": True},
    "report-only": {"REPORT_ONLY": True},
    "every-option-on": {
        "TRUSTED_PROXIES": ["10.0.0.0/8"],
        "REMOTE_ADDR_KEY": "HTTP_X_FORWARDED_FOR",
        "UA_MATCH": "ignore_versions",
        "IP_EXEMPT_NETWORKS": ["100.64.0.0/10"],
        "DUAL_STACK": True,
        "REPORT_ONLY": True,
        "FAILURE_HANDLER": "tests.failure_handlers.json_failure",
        "STORE": "hashed",
    },
}


def prefixed(settings: dict[str, Any]) -> dict[str, Any]:
    return {f"RESTRICTEDSESSIONS_{name}": value for name, value in settings.items()}


def our_messages() -> list[Any]:
    return [message for message in run_checks() if message.id and message.id.startswith("restricted_sessions.")]


def get_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


async def aget_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


RESPONDERS = pytest.mark.parametrize("responder", [get_response, aget_response], ids=["sync", "async"])


# System checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "check_id", "value"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_value_is_reported_by_its_check(name: str, check_id: str, value: Any) -> None:
    with override_settings(**prefixed({name: value})):
        [error] = our_messages()

    assert isinstance(error, Error)
    assert error.id == check_id
    assert f"RESTRICTEDSESSIONS_{name}" in error.msg
    assert error.hint


@pytest.mark.parametrize(("name", "value"), INVALID_BOOLEANS.values(), ids=INVALID_BOOLEANS.keys())
def test_a_non_boolean_dual_stack_or_report_only_is_reported(name: str, value: Any) -> None:
    with override_settings(**prefixed({name: value})):
        [error] = our_messages()

    assert isinstance(error, Error)
    assert f"RESTRICTEDSESSIONS_{name}" in error.msg
    assert error.hint


@pytest.mark.parametrize("valid", VALID.values(), ids=VALID.keys())
def test_valid_values_pass_every_check(valid: dict[str, Any]) -> None:
    with override_settings(**prefixed(valid)):
        assert our_messages() == []


def test_each_setting_has_its_own_check_id() -> None:
    ids = {check_id for _, check_id, _ in INVALID.values()}

    assert ids == {f"restricted_sessions.E01{n}" for n in range(1, 6)}


def test_several_invalid_settings_are_all_reported_at_once() -> None:
    with override_settings(
        **prefixed(
            {
                "TRUSTED_PROXIES": ["nope"],
                "IP_EXEMPT_NETWORKS": ["nope"],
                "UA_MATCH": "nope",
                "STORE": "nope",
                "FAILURE_HANDLER": "nope",
            }
        )
    ):
        ids = sorted(message.id for message in our_messages())

    assert ids == [f"restricted_sessions.E01{n}" for n in range(1, 6)]


def test_the_error_names_the_bad_entry() -> None:
    with override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/8", "proxy.internal"]):
        [error] = our_messages()

    assert "proxy.internal" in error.msg


# The middleware constructor ------------------------------------------------------------------------


@RESPONDERS
@pytest.mark.parametrize(("name", "check_id", "value"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_value_stops_the_middleware_from_being_built(
    name: str, check_id: str, value: Any, responder: Callable[..., Any]
) -> None:
    with override_settings(**prefixed({name: value})), pytest.raises(ImproperlyConfigured) as raised:
        RestrictedSessionsMiddleware(responder)

    assert check_id in str(raised.value)
    assert f"RESTRICTEDSESSIONS_{name}" in str(raised.value)


@RESPONDERS
@pytest.mark.parametrize(("name", "value"), INVALID_BOOLEANS.values(), ids=INVALID_BOOLEANS.keys())
def test_a_non_boolean_stops_the_middleware_from_being_built(
    name: str, value: Any, responder: Callable[..., Any]
) -> None:
    with override_settings(**prefixed({name: value})), pytest.raises(ImproperlyConfigured):
        RestrictedSessionsMiddleware(responder)


@RESPONDERS
@pytest.mark.parametrize("valid", VALID.values(), ids=VALID.keys())
def test_valid_values_build_the_middleware(valid: dict[str, Any], responder: Callable[..., Any]) -> None:
    with override_settings(**prefixed(valid)):
        RestrictedSessionsMiddleware(responder)


@pytest.mark.django_db
@override_settings(RESTRICTEDSESSIONS_STORE="encrypted")
def test_the_test_client_never_gets_a_500_from_a_bad_setting(client: Any) -> None:
    """The site does not start: the handler raises while it loads MIDDLEWARE, before any request runs."""
    with pytest.raises(ImproperlyConfigured, match="E014"):
        client.get("/sync/read/")


def test_every_production_option_is_off_by_default() -> None:
    """The core issue's behaviour is kept unless an operator opts in."""
    from restricted_sessions.conf import get_config

    config = get_config()
    assert config.trusted_proxies == ()
    assert config.policy.ua_match == "exact"
    assert config.policy.exempt_networks == ()
    assert config.policy.dual_stack is False
    assert config.report_only is False
    assert config.failure_handler is None
    assert config.hashed is False
