"""restricted_sessions.checks: every misconfiguration is a system-check message, and the errors stop start-up.

An invalid value is reported by ``manage.py check`` (with ``restricted_sessions`` in INSTALLED_APPS)
and stops the middleware from being built, with ImproperlyConfigured, so it never surfaces as a 500
at request time. MIDDLEWARE mistakes that silently weaken the protection are reported too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import Error, run_checks
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.test import override_settings

from restricted_sessions.conf import get_config
from restricted_sessions.middleware import CsrfViewMiddleware, RestrictedSessionsMiddleware, SessionMiddleware
from tests import settings as test_settings

SESSION = "restricted_sessions.middleware.SessionMiddleware"
DJANGO_SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
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
    "trusted-proxies-host-bits-set": ("TRUSTED_PROXIES", "restricted_sessions.E011", ["10.1.2.3/8"]),
    "exempt-networks-host-bits-set": ("IP_EXEMPT_NETWORKS", "restricted_sessions.E012", ["2001:db8::1/32"]),
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
    "cache-unknown": ("CACHE", "restricted_sessions.E016", "no-such-cache"),
    "cache-none": ("CACHE", "restricted_sessions.E016", None),
    "cache-not-a-string": ("CACHE", "restricted_sessions.E016", ["default"]),
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
    "trusted-proxies-single-addresses-without-a-length": {"TRUSTED_PROXIES": ["10.1.2.3", "::ffff:10.1.2.3", "::1"]},
    "exempt-networks": {"IP_EXEMPT_NETWORKS": ["100.64.0.0/10", "2001:db8::/32"]},
    "ua-match-exact": {"UA_MATCH": "exact"},
    "ua-match-ignore-versions": {"UA_MATCH": "ignore_versions"},
    "store-raw": {"STORE": "raw"},
    "store-hashed": {"STORE": "hashed"},
    "failure-handler-sync": {"FAILURE_HANDLER": "tests.failure_handlers.json_failure"},
    "failure-handler-async": {"FAILURE_HANDLER": "tests.failure_handlers.ajson_failure"},
    "cache-default": {"CACHE": "default"},
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


def test_the_test_settings_pass_every_check() -> None:
    assert our_messages() == []


# Settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_an_invalid_setting_is_a_system_check_error(bad: dict[str, Any]) -> None:
    with override_settings(**bad):
        errors = our_messages()

    assert len(errors) == 1
    [error] = errors
    assert isinstance(error, Error)
    assert error.hint


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="no-such-view")
def test_a_redirect_view_that_cannot_be_reversed_is_a_system_check_error() -> None:
    [error] = our_messages()

    assert isinstance(error, Error)
    assert "no-such-view" in error.msg
    assert error.hint


@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="landing")
def test_a_redirect_view_that_reverses_passes() -> None:
    assert our_messages() == []


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
        assert our_messages() == []


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

    assert ids == {f"restricted_sessions.E01{n}" for n in range(1, 7)}


def test_several_invalid_settings_are_all_reported_at_once() -> None:
    with override_settings(
        **prefixed(
            {
                "TRUSTED_PROXIES": ["nope"],
                "IP_EXEMPT_NETWORKS": ["nope"],
                "UA_MATCH": "nope",
                "STORE": "nope",
                "FAILURE_HANDLER": "nope",
                "CACHE": "nope",
            }
        )
    ):
        ids = sorted(message.id for message in our_messages())

    assert ids == [f"restricted_sessions.E01{n}" for n in range(1, 7)]


def test_the_error_names_the_bad_entry() -> None:
    with override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/8", "proxy.internal"]):
        [error] = our_messages()

    assert "proxy.internal" in error.msg


HOST_BITS_SET = {
    "ipv4": ("10.0.0.1/8", "'10.0.0.0/8'", "'10.0.0.1'"),
    "an-interface-address": ("192.0.2.10/24", "'192.0.2.0/24'", "'192.0.2.10'"),
    "a-netmask": ("10.0.0.1/255.0.0.0", "'10.0.0.0/8'", "'10.0.0.1'"),
    "ipv6": ("2001:db8::1/64", "'2001:db8::/64'", "'2001:db8::1'"),
    # An IPv4-mapped network is its IPv4 network: /100 is 0.0.0.0/4, not 10.0.0.0/8.
    "ipv4-mapped": ("::ffff:10.0.0.0/100", "'0.0.0.0/4'", "'10.0.0.0'"),
    "nat64": ("64:ff9b::c000:221/120", "'192.0.2.0/24'", "'192.0.2.33'"),
}


@pytest.mark.parametrize("name", ["TRUSTED_PROXIES", "IP_EXEMPT_NETWORKS"])
@pytest.mark.parametrize(("entry", "network", "address"), HOST_BITS_SET.values(), ids=HOST_BITS_SET.keys())
def test_an_entry_with_host_bits_set_is_an_error_naming_the_network_it_covers(
    name: str, entry: str, network: str, address: str
) -> None:
    # ipaddress.ip_network(strict=True) refuses it: "192.0.2.10/24" copied from an interface would
    # trust (or exempt) the whole /24, where the one address was probably meant.
    from restricted_sessions.checks import check_settings

    with override_settings(**prefixed({name: ["10.0.0.0/8", entry]})):
        [error] = check_settings()
        with pytest.raises(ImproperlyConfigured, match=error.id):
            get_config()

    assert (
        error.id
        == {"TRUSTED_PROXIES": "restricted_sessions.E011", "IP_EXEMPT_NETWORKS": "restricted_sessions.E012"}[name]
    )
    assert repr(entry) in error.msg
    assert "host bits" in error.msg
    assert network in str(error.hint)
    assert address in str(error.hint)


IMPORT_FAILURES = {
    "runtime-error": 'raise RuntimeError("the handler module cannot start")',
    "value-error": "int('not a number')",
    "zero-division": "1 / 0",
    "syntax-error": "def handler(request, reason) return None",
    "improperly-configured": (
        "from django.core.exceptions import ImproperlyConfigured\nraise ImproperlyConfigured('missing')"
    ),
}


@pytest.mark.parametrize("body", IMPORT_FAILURES.values(), ids=IMPORT_FAILURES.keys())
def test_a_failure_handler_whose_module_raises_at_import_is_e015(
    body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_failure_handler.py").write_text(f"{body}\n\ndef handler(request, reason):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with override_settings(RESTRICTEDSESSIONS_FAILURE_HANDLER="broken_failure_handler.handler"):
        [error] = our_messages()
        with pytest.raises(ImproperlyConfigured, match="E015"):
            RestrictedSessionsMiddleware(get_response)

    assert isinstance(error, Error)
    assert error.id == "restricted_sessions.E015"
    assert "broken_failure_handler.handler" in error.msg


@override_settings(RESTRICTEDSESSIONS_DUAL_STACK=True, SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
def test_dual_stack_with_signed_cookies_is_w002() -> None:
    [warning] = our_messages()

    assert isinstance(warning, CheckWarning)
    assert warning.id == "restricted_sessions.W002"
    assert warning.hint
    RestrictedSessionsMiddleware(get_response)


@pytest.mark.parametrize("engine", ["db", "cache", "cached_db", "file"])
def test_dual_stack_with_a_server_side_engine_passes(engine: str) -> None:
    with override_settings(
        RESTRICTEDSESSIONS_DUAL_STACK=True, SESSION_ENGINE=f"django.contrib.sessions.backends.{engine}"
    ):
        assert our_messages() == []


# MIDDLEWARE ------------------------------------------------------------------------------------------


@override_settings(
    MIDDLEWARE=[
        "tests.middleware.ProjectSessionMiddleware",
        AUTH,
        "tests.middleware.ProjectRestrictedSessionsMiddleware",
    ],
    RESTRICTEDSESSIONS_AUTHED_ONLY=True,
)
def test_subclasses_count_in_the_middleware_order_check() -> None:
    assert our_messages() == []


@override_settings(MIDDLEWARE=["tests.middleware.ProjectRestrictedSessionsMiddleware", SESSION])
def test_a_subclass_of_the_restriction_middleware_before_the_session_middleware_is_an_error() -> None:
    assert len(our_messages()) == 1


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
            [error] = our_messages()
        ids.add(error.id)

    assert len(ids) == 6


class OtherSessionMiddleware(DjangoSessionMiddleware):
    """A project's subclass of Django's SessionMiddleware (not of the library's)."""


OTHER_SESSION = f"{__name__}.OtherSessionMiddleware"
TWO_SESSION_MIDDLEWARES = {
    "django-before-ours": [DJANGO_SESSION, SESSION, AUTH, RESTRICTED],
    "django-after-ours": [SESSION, DJANGO_SESSION, AUTH, RESTRICTED],
    "subclass-of-djangos": [OTHER_SESSION, SESSION, AUTH, RESTRICTED],
    "with-our-subclass": ["tests.middleware.ProjectSessionMiddleware", DJANGO_SESSION, AUTH, RESTRICTED],
}


@RESPONDERS
@pytest.mark.parametrize("middleware", TWO_SESSION_MIDDLEWARES.values(), ids=TWO_SESSION_MIDDLEWARES.keys())
def test_djangos_session_middleware_listed_with_ours_is_e017(
    middleware: list[str], responder: Callable[..., Any]
) -> None:
    with override_settings(MIDDLEWARE=middleware):
        [error] = our_messages()
        with pytest.raises(ImproperlyConfigured, match="E017"):
            SessionMiddleware(responder)

    assert isinstance(error, Error)
    assert error.id == "restricted_sessions.E017"
    assert error.hint


@override_settings(MIDDLEWARE=[DJANGO_SESSION, AUTH])
def test_djangos_session_middleware_alone_passes() -> None:
    assert our_messages() == []


HEADER_SESSIONS_UNBOUND = {
    "ours-only": [SESSION, AUTH],
    "our-subclass-only": ["tests.middleware.ProjectSessionMiddleware", AUTH],
    "restriction-path-broken": [SESSION, AUTH, "restricted_sessions.no_such_module.RestrictedSessionsMiddleware"],
}


@RESPONDERS
@pytest.mark.parametrize("middleware", HEADER_SESSIONS_UNBOUND.values(), ids=HEADER_SESSIONS_UNBOUND.keys())
def test_header_sessions_without_the_restriction_middleware_are_w003(
    middleware: list[str], responder: Callable[..., Any]
) -> None:
    with override_settings(MIDDLEWARE=middleware):
        [warning] = our_messages()
        SessionMiddleware(responder)

    assert isinstance(warning, CheckWarning)
    assert warning.id == "restricted_sessions.W003"
    assert "RESTRICTEDSESSIONS_SESSION_HEADER = None" in str(warning.hint)


@pytest.mark.parametrize(
    "overrides",
    [
        {"MIDDLEWARE": [SESSION, AUTH], "RESTRICTEDSESSIONS_SESSION_HEADER": None},
        {"MIDDLEWARE": [SESSION, AUTH, "tests.middleware.ProjectRestrictedSessionsMiddleware"]},
    ],
    ids=["header-off", "restriction-subclass"],
)
def test_header_sessions_with_a_restriction_or_without_a_header_pass(overrides: dict[str, Any]) -> None:
    with override_settings(**overrides):
        assert our_messages() == []


DJANGO_CSRF = "django.middleware.csrf.CsrfViewMiddleware"
CSRF = "restricted_sessions.middleware.CsrfViewMiddleware"


class ProjectCsrfViewMiddleware(CsrfViewMiddleware):
    """A project's subclass of the library's CsrfViewMiddleware."""


class OtherCsrfViewMiddleware(DjangoCsrfViewMiddleware):
    """A project's subclass of Django's CsrfViewMiddleware (not of the library's)."""


HEADER_SESSIONS_UNDER_DJANGOS_CSRF = {
    "djangos": [SESSION, COMMON, DJANGO_CSRF, AUTH, RESTRICTED],
    "a-subclass-of-djangos": [SESSION, COMMON, f"{__name__}.OtherCsrfViewMiddleware", AUTH, RESTRICTED],
    "our-session-subclass": ["tests.middleware.ProjectSessionMiddleware", COMMON, DJANGO_CSRF, AUTH, RESTRICTED],
    "djangos-next-to-ours": [SESSION, COMMON, CSRF, DJANGO_CSRF, AUTH, RESTRICTED],
}


@RESPONDERS
@pytest.mark.parametrize(
    "middleware", HEADER_SESSIONS_UNDER_DJANGOS_CSRF.values(), ids=HEADER_SESSIONS_UNDER_DJANGOS_CSRF.keys()
)
def test_header_sessions_under_djangos_csrf_middleware_are_w006(
    middleware: list[str], responder: Callable[..., Any]
) -> None:
    # Django's CSRF check refuses every POST of a header client (its login included) with a 403.
    with override_settings(MIDDLEWARE=middleware):
        [warning] = our_messages()
        SessionMiddleware(responder)

    assert isinstance(warning, CheckWarning)
    assert warning.id == "restricted_sessions.W006"
    assert "403" in warning.msg
    assert f"'{CSRF}'" in str(warning.hint)


@pytest.mark.parametrize(
    "overrides",
    [
        {"MIDDLEWARE": [SESSION, COMMON, CSRF, AUTH, RESTRICTED]},
        {"MIDDLEWARE": [SESSION, COMMON, f"{__name__}.ProjectCsrfViewMiddleware", AUTH, RESTRICTED]},
        {"MIDDLEWARE": [SESSION, COMMON, AUTH, RESTRICTED]},
        {"MIDDLEWARE": [SESSION, COMMON, DJANGO_CSRF, AUTH, RESTRICTED], "RESTRICTEDSESSIONS_SESSION_HEADER": None},
        {"MIDDLEWARE": [DJANGO_SESSION, COMMON, DJANGO_CSRF, AUTH]},
        {"MIDDLEWARE": [SESSION, COMMON, "django.middleware.csrf.no_such_class", AUTH, RESTRICTED]},
    ],
    ids=[
        "ours",
        "our-subclass",
        "no-csrf-middleware",
        "header-off",
        "djangos-session-middleware",
        "csrf-path-broken",
    ],
)
def test_header_sessions_with_our_csrf_middleware_or_none_pass(overrides: dict[str, Any]) -> None:
    with override_settings(**overrides):
        assert our_messages() == []


# Building the middleware ----------------------------------------------------------------------

# REDIRECT_VIEW needs the URLconf, so only the system check reports it.
KNOWABLE_WITHOUT_URLCONF = BAD_SETTINGS

MIDDLEWARE_CLASSES: dict[str, type[Any]] = {
    "restriction": RestrictedSessionsMiddleware,
    "session": SessionMiddleware,
}


@RESPONDERS
@pytest.mark.parametrize("bad", KNOWABLE_WITHOUT_URLCONF.values(), ids=KNOWABLE_WITHOUT_URLCONF.keys())
def test_building_the_restriction_middleware_with_an_invalid_setting_raises(
    bad: dict[str, Any], responder: Callable[..., Any]
) -> None:
    with override_settings(**bad), pytest.raises(ImproperlyConfigured):
        RestrictedSessionsMiddleware(responder)


@RESPONDERS
@override_settings(RESTRICTEDSESSIONS_REDIRECT_VIEW="no-such-view")
def test_building_the_middleware_does_not_need_the_urlconf(responder: Callable[..., Any]) -> None:
    RestrictedSessionsMiddleware(responder)
    SessionMiddleware(responder)


@RESPONDERS
def test_building_with_valid_settings_works(responder: Callable[..., Any]) -> None:
    assert test_settings.MIDDLEWARE
    RestrictedSessionsMiddleware(responder)
    SessionMiddleware(responder)


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
    assert config.addresses.trusted == ()
    assert config.policy.ua_match == "exact"
    assert config.addresses.exempt == ()
    assert config.policy.dual_stack is False
    assert config.report_only is False
    assert config.failure_handler is None
    assert config.hashed is False


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("DPOP", "on", "restricted_sessions.E020"),
        ("DPOP", True, "restricted_sessions.E020"),
        ("DPOP_ALGORITHMS", [], "restricted_sessions.E021"),
        ("DPOP_ALGORITHMS", "ES256", "restricted_sessions.E021"),
        ("DPOP_ALGORITHMS", ["ES256", "HS256"], "restricted_sessions.E021"),
        ("DPOP_ALGORITHMS", ["none"], "restricted_sessions.E021"),
        ("DPOP_IAT_LEEWAY", 0, "restricted_sessions.E022"),
        ("DPOP_IAT_LEEWAY", 3601, "restricted_sessions.E022"),
        ("DPOP_IAT_LEEWAY", "60", "restricted_sessions.E022"),
        ("DPOP_IAT_LEEWAY", True, "restricted_sessions.E022"),
        ("DPOP_NONCE", "yes", "restricted_sessions.E001"),
        ("DPOP_RESTRICT_IP", 0, "restricted_sessions.E001"),
    ],
)
def test_a_dpop_setting_that_cannot_work_is_an_error(name: str, value: Any, check_id: str) -> None:
    from restricted_sessions.checks import check_settings

    with override_settings(**{f"RESTRICTEDSESSIONS_{name}": value}):
        assert [message.id for message in check_settings()] == [check_id]


@pytest.mark.parametrize(("value", "leeway"), [("optional", 1), ("required", 3600)])
def test_valid_dpop_settings_pass(value: str, leeway: int) -> None:
    from restricted_sessions.checks import check_settings

    with override_settings(RESTRICTEDSESSIONS_DPOP=value, RESTRICTEDSESSIONS_DPOP_IAT_LEEWAY=leeway):
        assert check_settings() == []


LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


class CullingCache(LocMemCache):
    """A site's own subclass of a culling backend."""


@pytest.mark.parametrize(
    ("cache", "leeway"),
    [
        ({"BACKEND": LOCMEM}, 60),
        ({"BACKEND": LOCMEM, "OPTIONS": {"MAX_ENTRIES": 6_099_999}}, 60),
        ({"BACKEND": LOCMEM, "OPTIONS": {"MAX_ENTRIES": 6_100_000}}, 61),
        ({"BACKEND": LOCMEM, "OPTIONS": {"MAX_ENTRIES": "300"}}, 60),
        # Not a number at all: Django would fail to build it; the store cannot be trusted either.
        ({"BACKEND": LOCMEM, "OPTIONS": {"MAX_ENTRIES": "lots"}}, 60),
        ({"BACKEND": f"{__name__}.CullingCache", "OPTIONS": {"MAX_ENTRIES": 1000}}, 60),
        ({"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/nonexistent"}, 60),
        ({"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache_table"}, 60),
        ({"BACKEND": "django.core.cache.backends.dummy.DummyCache"}, 60),
    ],
)
def test_dpop_with_a_jti_store_that_a_client_can_flush_is_an_error(cache: dict[str, Any], leeway: int) -> None:
    # LocMemCache, FileBasedCache and DatabaseCache cull a third of their entries past MAX_ENTRIES:
    # a client sending that many proofs of its own would make a captured proof usable again.
    from restricted_sessions.checks import check_settings

    with override_settings(
        CACHES={"default": cache}, RESTRICTEDSESSIONS_DPOP="optional", RESTRICTEDSESSIONS_DPOP_IAT_LEEWAY=leeway
    ):
        messages = check_settings()
        assert [message.id for message in messages] == ["restricted_sessions.E026"]
        assert "usable again" in messages[0].msg or "stores nothing" in messages[0].msg
        with pytest.raises(ImproperlyConfigured, match=r"\(restricted_sessions\.E026\)"):
            get_config()


@pytest.mark.parametrize(
    ("cache", "dpop", "leeway"),
    [
        ({"BACKEND": LOCMEM, "OPTIONS": {"MAX_ENTRIES": 6_100_000}}, "optional", 60),
        ({"BACKEND": LOCMEM, "OPTIONS": {"MAX_ENTRIES": 200_000}}, "required", 1),
        ({"BACKEND": LOCMEM, "OPTIONS": {"MAX_ENTRIES": "10000000"}}, "optional", 60),
        ({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1"}, "optional", 60),
        ({"BACKEND": LOCMEM}, "off", 60),
    ],
)
def test_a_jti_store_that_holds_every_window_passes(cache: dict[str, Any], dpop: str, leeway: int) -> None:
    from restricted_sessions.checks import check_settings

    with override_settings(
        CACHES={"default": cache}, RESTRICTEDSESSIONS_DPOP=dpop, RESTRICTEDSESSIONS_DPOP_IAT_LEEWAY=leeway
    ):
        assert check_settings() == []


@pytest.mark.parametrize(
    ("caches", "alias", "expected"),
    [
        # The alias names no cache: E016 says so, and nothing is guessed about a backend.
        ({"default": {"BACKEND": LOCMEM}}, "missing", ["restricted_sessions.E016"]),
        # A BACKEND that does not import, or is not a class: Django reports it when it builds the cache.
        ({"default": {"BACKEND": "no.such.CacheBackend"}}, "default", []),
        ({"default": {"BACKEND": "os.path.join"}}, "default", []),
    ],
)
def test_a_jti_store_check_leaves_other_cache_errors_to_their_checks(
    caches: dict[str, Any], alias: str, expected: list[str]
) -> None:
    from restricted_sessions.checks import check_settings

    with override_settings(CACHES=caches, RESTRICTEDSESSIONS_CACHE=alias, RESTRICTEDSESSIONS_DPOP="optional"):
        assert [message.id for message in check_settings()] == expected


def test_dpop_without_joserfc_is_an_error_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from restricted_sessions import conf
    from restricted_sessions.checks import check_settings

    monkeypatch.setattr(conf, "_importable", lambda module: module != "joserfc")
    with override_settings(RESTRICTEDSESSIONS_DPOP="optional"):
        assert [message.id for message in check_settings()] == ["restricted_sessions.E019"]


# Every other setting error: its id, its message, and the start-up error of get_config() ------------

OTHER_INVALID: dict[str, tuple[str, str, Any]] = {
    "redirect-view-empty": ("REDIRECT_VIEW", "restricted_sessions.E005", ""),
    "redirect-view-not-a-string": ("REDIRECT_VIEW", "restricted_sessions.E005", 1),
    "remote-addr-key-empty": ("REMOTE_ADDR_KEY", "restricted_sessions.E006", ""),
    "remote-addr-key-none": ("REMOTE_ADDR_KEY", "restricted_sessions.E006", None),
    "session-header-with-a-space": ("SESSION_HEADER", "restricted_sessions.E007", "X Session"),
    "session-header-not-a-string": ("SESSION_HEADER", "restricted_sessions.E007", 1),
    "nat64-prefix-of-length-33": ("NAT64_PREFIXES", "restricted_sessions.E023", ["2001:db8::/33"]),
    "max-proxy-hops-zero": ("MAX_PROXY_HOPS", "restricted_sessions.E024", 0),
    "dbsc-not-a-boolean": ("DBSC", "restricted_sessions.E018", "yes"),
}


@pytest.mark.parametrize(("name", "check_id", "value"), OTHER_INVALID.values(), ids=OTHER_INVALID.keys())
def test_every_other_invalid_value_is_reported_and_stops_get_config(name: str, check_id: str, value: Any) -> None:
    from restricted_sessions.checks import check_settings
    from restricted_sessions.conf import get_config

    with override_settings(**prefixed({name: value})):
        [error] = check_settings()
        with pytest.raises(ImproperlyConfigured) as raised:
            get_config()

    assert isinstance(error, Error)
    assert error.id == check_id
    assert error.msg.startswith(f"RESTRICTEDSESSIONS_{name}")
    assert repr(value) in error.msg or name in ("NAT64_PREFIXES", "MAX_PROXY_HOPS")
    assert error.hint
    assert str(raised.value) == f"{error.msg} {error.hint} ({check_id})"


# RESTRICTEDSESSIONS_SESSION_HEADER: a name that only a script sends, and that servers pass on ----

# Each is a valid HTTP token, so the name alone never failed.
SESSION_HEADERS_A_BROWSER_SENDS = [
    "Accept-Charset",
    "Accept-Encoding",
    "Access-Control-Request-Headers",
    "Access-Control-Request-Method",
    "Connection",
    "Content-Length",
    "Cookie",
    "Cookie2",
    "Date",
    "DNT",
    "Expect",
    "Host",
    "Keep-Alive",
    "Origin",
    "Referer",
    "Set-Cookie",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Via",
    "Proxy-Authorization",
    "Proxy-Session",
    "Sec-Fetch-Site",
    "Sec-Session",
    "Authorization",
    "User-Agent",
    "Accept",
    "Accept-Language",
    "Cache-Control",
    "Pragma",
    "Upgrade-Insecure-Requests",
    "Priority",
    "Content-Type",
    "If-None-Match",
    "If-Modified-Since",
    "Range",
    # The fifth CORS-safelisted request header, and more that browsers add on their own.
    "Content-Language",
    "If-Match",
    "If-Range",
    "If-Unmodified-Since",
    "Last-Event-ID",
    "Purpose",
    "Service-Worker",
    "Save-Data",
    "Viewport-Width",
    # Compared case-insensitively, as HTTP compares header names.
    "cookie",
    "AUTHORIZATION",
    "sec-fetch-mode",
    "PROXY-Connection",
]


@pytest.mark.parametrize("name", SESSION_HEADERS_A_BROWSER_SENDS)
def test_a_session_header_that_browsers_send_by_themselves_is_e007(name: str) -> None:
    # The CSRF exemption of header sessions rests on a browser never adding the header on its own.
    from restricted_sessions.checks import check_settings

    with override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=name):
        [error] = check_settings()
        with pytest.raises(ImproperlyConfigured, match=r"\(restricted_sessions\.E007\)"):
            get_config()

    assert isinstance(error, Error)
    assert error.id == "restricted_sessions.E007"
    assert repr(name) in error.msg
    assert "by themselves" in error.msg
    assert "'X-SessionID'" in str(error.hint)


@pytest.mark.parametrize("name", ["Content-Type", "content-length"])
def test_a_session_header_that_django_does_not_read_as_http_is_e007_saying_so(name: str) -> None:
    from restricted_sessions.checks import check_settings

    with override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=name):
        [error] = check_settings()

    assert error.id == "restricted_sessions.E007"
    assert "CONTENT_" in error.msg


@pytest.mark.parametrize(("name", "dashed"), [("X_SessionID", "X-SessionID"), ("X-Session_Token", "X-Session-Token")])
def test_a_session_header_with_an_underscore_is_e007_naming_the_dashed_spelling(name: str, dashed: str) -> None:
    # WSGI servers and nginx drop such headers: only Django's test Client would ever pass one.
    from restricted_sessions.checks import check_settings

    with override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=name):
        [error] = check_settings()
        with pytest.raises(ImproperlyConfigured, match=r"\(restricted_sessions\.E007\)"):
            get_config()

    assert error.id == "restricted_sessions.E007"
    assert repr(name) in error.msg
    assert "underscore" in error.msg
    assert repr(dashed) in str(error.hint)


@pytest.mark.parametrize(
    "name",
    [
        "X-SessionID",
        "X-Session-Token",
        "X-App-Session",
        "X-Requested-With",  # only ever set by scripts
        "Session",
        "X-Sec-Session",  # Sec- and Proxy- only as a prefix
        "X-Proxy-Session",
        "Hosted-Session",  # a forbidden name only as the whole name
        "X-Cookie",
        None,
    ],
)
def test_a_session_header_that_only_scripts_send_passes(name: str | None) -> None:
    from restricted_sessions.checks import check_settings

    with override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=name):
        assert check_settings() == []
        assert get_config().session_header == name


def test_a_remote_addr_key_without_trusted_proxies_is_only_a_warning() -> None:
    from restricted_sessions.checks import check_settings
    from restricted_sessions.conf import get_config

    with override_settings(RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_FORWARDED_FOR"):
        [warning] = check_settings()
        config = get_config()

    assert isinstance(warning, CheckWarning)
    assert warning.id == "restricted_sessions.W001"
    assert config.remote_addr_key == "HTTP_X_FORWARDED_FOR"


def test_dbsc_without_joserfc_is_an_error_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from restricted_sessions import conf
    from restricted_sessions.checks import check_settings

    monkeypatch.setattr(conf, "_importable", lambda module: module != "joserfc")
    with override_settings(RESTRICTEDSESSIONS_DBSC=True):
        [error] = check_settings()

    assert error.id == "restricted_sessions.E019"
    assert error.hint == 'pip install "restricted_sessions[dbsc]"'


SIGNED_COOKIE_ENGINES = ["django.contrib.sessions.backends.signed_cookies", "tests.signed_cookie_engine"]


@RESPONDERS
@pytest.mark.parametrize("engine", SIGNED_COOKIE_ENGINES, ids=["signed-cookies", "a-subclass"])
def test_dbsc_with_signed_cookie_sessions_is_e027(engine: str, responder: Callable[..., Any]) -> None:
    # A signed cookie cannot forget a used challenge nor the device key at logout: a copy of the
    # login response's cookie, signed before registration, would stay valid without the bound cookie.
    from restricted_sessions.checks import check_settings

    with override_settings(RESTRICTEDSESSIONS_DBSC=True, SESSION_ENGINE=engine):
        [error] = check_settings()
        with pytest.raises(ImproperlyConfigured, match=r"\(restricted_sessions\.E027\)"):
            RestrictedSessionsMiddleware(responder)

    assert isinstance(error, Error)
    assert error.id == "restricted_sessions.E027"
    assert error.msg.startswith("RESTRICTEDSESSIONS_DBSC ")
    assert repr(engine) in error.msg
    assert "server-side session engine" in str(error.hint)


@pytest.mark.parametrize(
    ("dbsc", "engine"),
    [
        (False, "django.contrib.sessions.backends.signed_cookies"),
        (True, "django.contrib.sessions.backends.db"),
        (True, "django.contrib.sessions.backends.cached_db"),
        (True, "django.contrib.sessions.backends.cache"),
        (True, "django.contrib.sessions.backends.file"),
        # Django reports an engine that does not import when it loads it.
        (True, "tests.no_such_engine"),
    ],
)
def test_dbsc_with_a_server_side_session_engine_or_dbsc_off_passes(dbsc: bool, engine: str) -> None:
    from restricted_sessions.checks import check_settings

    with override_settings(RESTRICTEDSESSIONS_DBSC=dbsc, SESSION_ENGINE=engine):
        assert check_settings() == []


@override_settings(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.sessions", "restricted_sessions"],
    MIDDLEWARE=[SESSION, RESTRICTED],
    RESTRICTEDSESSIONS_AUTHED_ONLY=True,
)
def test_authed_only_on_a_site_without_contrib_auth_is_e009() -> None:
    from restricted_sessions.checks import check_middleware

    assert [message.id for message in check_middleware()] == ["restricted_sessions.E009"]
