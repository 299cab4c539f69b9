"""django-restricted-sessions 0.4's extension points and its own test suite (issue 10, items 19 and 20)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, override_settings
from django.utils.module_loading import import_string

import restricted_sessions
from restricted_sessions.binding import BINDING_SESSION_KEY, IP_SESSION_KEY, UA_SESSION_KEY
from restricted_sessions.conf import get_config
from restricted_sessions.middleware import RestrictedSessionsMiddleware
from tests.conftest import DEFAULT_UA, Http, start_header_session
from tests.helpers import in_event_loop

pytestmark = pytest.mark.django_db

SEED = Path(__file__).parent / "seed"
UPGRADING = Path(__file__).parent.parent / "docs" / "upgrading.rst"
# The seed tests that fail on purpose; docs/upgrading.rst names each one and says why.
INTENDED_DIFFERENCES = {
    # The binding is written at the first save, not into the session on every request.
    "test_saves_with_remote_addr": "error",
    "test_saves_with_remote_addr_with_custom_key": "error",
    "test_without_remote_addr_still_check_user_agent": "fail",
    "test_without_remote_addr_still_check_user_agent_when_configured_status": "fail",
    "test_without_remote_addr_still_check_user_agent_when_redirect": "fail",
    # AUTHED_ONLY reads the login from the session, not from request.user.
    "test_only_authed_users_setting": "error",
}
SEED_TESTS = {
    "test_disable_ip_validation",
    "test_disable_ua_validation",
    "test_ip_was_known_now_absent",
    "test_only_authed_users_setting",
    "test_saves_with_remote_addr",
    "test_saves_with_remote_addr_with_custom_key",
    "test_validates_ipv4",
    "test_validates_ipv4_subnet",
    "test_validates_ipv4_to_ipv6",
    "test_validates_ipv6",
    "test_validates_ipv6_custom_length",
    "test_validates_ipv6_mapped_ipv4",
    "test_validates_ipv6_to_ipv4",
    "test_validates_multiple_addresses",
    "test_validates_ua",
    "test_without_remote_addr",
    "test_without_remote_addr_still_check_user_agent",
    "test_without_remote_addr_still_check_user_agent_when_configured_status",
    "test_without_remote_addr_still_check_user_agent_when_redirect",
    "test_without_remote_addr_with_custom_key",
    "test_without_session",
}
F = TypeVar("F", bound=Callable[..., Any])
RESTRICTION = "restricted_sessions.middleware.RestrictedSessionsMiddleware"


# The seed's own suite ---------------------------------------------------------------------


def test_the_seed_suite_passes_but_for_the_documented_differences() -> None:
    # The checkout (or installed package) this suite imports is the one the seed tests see.
    package_root = str(Path(restricted_sessions.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": package_root}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, str(SEED / "run.py")], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr
    outcomes = json.loads(run.stdout)
    assert set(outcomes) == SEED_TESTS
    assert {name: outcome for name, outcome in outcomes.items() if outcome != "pass"} == INTENDED_DIFFERENCES


def test_the_upgrade_guide_names_every_intended_difference() -> None:
    guide = UPGRADING.read_text(encoding="utf-8")
    for name in INTENDED_DIFFERENCES:
        assert f"``{name}``" in guide


def test_the_seed_module_only_re_exports() -> None:
    sys.path.insert(0, str(SEED))
    try:
        from restrictedsessions import middleware  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(SEED))
    assert middleware.RestrictedSessionsMiddleware is RestrictedSessionsMiddleware
    assert (middleware.SESSION_IP_KEY, middleware.SESSION_UA_KEY) == (IP_SESSION_KEY, UA_SESSION_KEY)


# The extension points, through the whole stack, sync and async ------------------------------


class LenientIpMiddleware(RestrictedSessionsMiddleware):
    """Accepts any address of 10.0.0.0/8; records what it was asked."""

    asked: list[str | None] = []

    def validate_ip(self, request: HttpRequest, remote_ip: str | None) -> bool:
        self.asked.append(remote_ip)
        return (remote_ip or "").startswith("10.") or super().validate_ip(request, remote_ip)


class NoCurlMiddleware(RestrictedSessionsMiddleware):
    """Refuses sessions used by curl, whatever they were bound to."""

    def validate_ua(self, request: HttpRequest) -> bool:
        user_agent = request.META.get("HTTP_USER_AGENT") or ""
        return not user_agent.startswith("curl/") and super().validate_ua(request)


class BlockingMiddleware(RestrictedSessionsMiddleware):
    """A sync-only ``process_request`` override: answers 403 for ``?blocked``, else the usual check."""

    threads: list[bool] = []

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        self.threads.append(in_event_loop())
        if "blocked" in request.GET:
            return HttpResponse(status=403)
        return super().process_request(request)


def with_restriction(path: str) -> Callable[[F], F]:
    from django.conf import settings

    middleware = [path if entry == RESTRICTION else entry for entry in settings.MIDDLEWARE]
    return override_settings(MIDDLEWARE=middleware)


@with_restriction(f"{__name__}.LenientIpMiddleware")
def test_an_overridden_validate_ip_decides(http: Http) -> None:
    LenientIpMiddleware.asked.clear()
    key = start_header_session(http, ip="10.0.0.1")
    assert http.get("read", key=key, ip="10.200.3.4").status_code == 200
    assert http.get("read", key=key, ip="192.0.2.9").status_code == 400
    assert LenientIpMiddleware.asked == ["10.200.3.4", "192.0.2.9"]


@with_restriction(f"{__name__}.LenientIpMiddleware")
def test_an_overridden_validate_ip_still_leaves_the_user_agent_to_the_engine(http: Http) -> None:
    key = start_header_session(http, ip="10.0.0.1")
    assert http.get("read", key=key, ip="10.9.9.9", ua="Other/2.0").status_code == 400


@with_restriction(f"{__name__}.NoCurlMiddleware")
def test_an_overridden_validate_ua_decides(http: Http) -> None:
    key = start_header_session(http)
    assert http.get("read", key=key).status_code == 200
    assert http.get("read", key=key, ua="curl/8.5.0").status_code == 400
    assert http.get("read", key=key).status_code == 400  # the session was ended


@with_restriction(f"{__name__}.NoCurlMiddleware")
def test_an_overridden_validate_ua_still_leaves_the_address_to_the_engine(http: Http) -> None:
    key = start_header_session(http)
    assert http.get("read", key=key, ip="192.0.2.9").status_code == 400


class ClosingMiddleware(RestrictedSessionsMiddleware):
    """Accepts the engine's answer until ``closed``: then no User-Agent is acceptable."""

    closed = False

    def validate_ua(self, request: HttpRequest) -> bool:
        return not self.closed and super().validate_ua(request)


@with_restriction(f"{__name__}.ClosingMiddleware")
def test_an_overridden_validator_is_asked_also_when_the_engine_remembers_a_match(
    http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = start_header_session(http)
    assert http.get("read", key=key).status_code == 200  # the engine now remembers this match
    monkeypatch.setattr(ClosingMiddleware, "closed", True)
    assert http.get("read", key=key).status_code == 400


class TeapotMiddleware(RestrictedSessionsMiddleware):
    """Overrides only the sync ``refuse``: ends the session and answers 418."""

    threads: list[bool] = []

    def refuse(self, request: HttpRequest, session: Any, examination: Any, config: Any) -> HttpResponseBase | None:
        self.threads.append(in_event_loop())
        super().refuse(request, session, examination, config)
        return HttpResponse(status=418)


@with_restriction(f"{__name__}.TeapotMiddleware")
def test_an_overridden_sync_refuse_refuses_on_both_paths(http: Http) -> None:
    TeapotMiddleware.threads.clear()
    key = start_header_session(http)
    assert http.get("read", key=key).status_code == 200
    assert http.get("read", key=key, ua="Other/2.0").status_code == 418
    assert http.get("read", key=key).status_code == 418  # refused before: the session was ended
    assert TeapotMiddleware.threads == [False, False]


@with_restriction(f"{__name__}.BlockingMiddleware")
def test_an_overridden_process_request_runs_on_both_paths(http: Http) -> None:
    BlockingMiddleware.threads.clear()
    key = start_header_session(http)
    assert http.get("read", {"blocked": "1"}, key=key).status_code == 403
    assert http.get("read", key=key).status_code == 200
    assert http.get("read", key=key, ua="Other/2.0").status_code == 400
    assert len(BlockingMiddleware.threads) == 4
    # Never in the event loop: a sync override may touch the session store.
    assert not any(BlockingMiddleware.threads)


# The default methods answer as the engine -----------------------------------------------


def middleware_for(data: dict[str, Any], **meta: Any) -> tuple[RestrictedSessionsMiddleware, HttpRequest]:
    session = SessionStore()
    session.update(data)
    session.save()
    request = RequestFactory().get("/", **meta)
    request.session = SessionStore(session.session_key)
    return RestrictedSessionsMiddleware(lambda request: HttpResponse()), request


@pytest.mark.parametrize(
    ("bound", "remote_ip", "valid"),
    [
        ("10.0.0.1", "10.0.0.1", True),
        ("10.0.0.1", "10.0.0.2", False),
        ("10.0.0.1", "::ffff:10.0.0.1", True),
        ("10.0.0.1", "10.0.0.1, 192.0.2.1", True),
        ("10.0.0.1", None, False),
        ("10.0.0.1", "garbage", False),
        ("10.0.0.1", "", False),
        ("10.0.0.1", "2001:db8::1", False),
        ("2001:db8::1", "2001:db8::ffff", True),
        ("2001:db8::1", "2001:db8:0:1::1", False),
        ("not an address", "10.0.0.1", False),
    ],
)
def test_the_default_validate_ip_is_the_engines_answer(bound: str, remote_ip: str | None, valid: bool) -> None:
    middleware, request = middleware_for({IP_SESSION_KEY: bound})
    assert middleware.validate_ip(request, remote_ip) is valid


@pytest.mark.parametrize("data", [{}, {"value": "x"}, {UA_SESSION_KEY: "Other/1.0"}])
def test_the_default_validate_ip_accepts_a_session_bound_to_no_address(data: dict[str, Any]) -> None:
    middleware, request = middleware_for(data)
    assert middleware.validate_ip(request, None) is True
    assert middleware.validate_ip(request, "garbage") is True


@override_settings(RESTRICTEDSESSIONS_RESTRICT_IP=False)
def test_the_default_validate_ip_accepts_anything_with_restrict_ip_off() -> None:
    middleware, request = middleware_for({IP_SESSION_KEY: "10.0.0.1"})
    assert middleware.validate_ip(request, "192.0.2.1") is True


@pytest.mark.parametrize(
    ("bound", "meta", "valid"),
    [
        (DEFAULT_UA, {"HTTP_USER_AGENT": DEFAULT_UA}, True),
        (DEFAULT_UA, {"HTTP_USER_AGENT": "Other/1.0"}, False),
        (DEFAULT_UA, {}, False),
        ("", {}, True),  # bound without a User-Agent: stays valid without one
        ("", {"HTTP_USER_AGENT": DEFAULT_UA}, False),
        (None, {}, True),  # 0.4 stored None for a request without one
    ],
)
def test_the_default_validate_ua_is_the_engines_answer(bound: str | None, meta: dict[str, str], valid: bool) -> None:
    middleware, request = middleware_for({UA_SESSION_KEY: bound}, **meta)
    assert middleware.validate_ua(request) is valid


def test_the_default_methods_read_the_compact_binding() -> None:
    bound, _ = middleware_for({})
    request = RequestFactory().get("/", HTTP_USER_AGENT=DEFAULT_UA)
    session = SessionStore()
    policy = get_config().policy
    session[BINDING_SESSION_KEY] = f"1|10.0.0.1||{policy.ua_token(DEFAULT_UA)}"
    request.session = session
    assert bound.validate_ip(request, "10.0.0.1") is True
    assert bound.validate_ip(request, "10.0.0.9") is False
    assert bound.validate_ua(request) is True
    request.META["HTTP_USER_AGENT"] = "Other/1.0"
    assert bound.validate_ua(request) is False


def test_the_default_methods_accept_a_request_without_a_session() -> None:
    middleware, _ = middleware_for({})
    request = RequestFactory().get("/")
    assert middleware.validate_ip(request, "192.0.2.1") is True
    assert middleware.validate_ua(request) is True


def test_process_request_returns_the_refusal_and_ends_the_session() -> None:
    middleware, request = middleware_for({IP_SESSION_KEY: "10.0.0.1", "canary": 1}, REMOTE_ADDR="10.0.0.1")
    assert middleware.process_request(request) is None
    request.META["REMOTE_ADDR"] = "10.0.0.2"
    response = middleware.process_request(request)
    assert response is not None
    assert response.status_code == 400
    assert "canary" not in request.session


async def test_aprocess_request_returns_the_refusal_and_ends_the_session() -> None:
    from asgiref.sync import sync_to_async

    middleware, request = await sync_to_async(middleware_for)(
        {IP_SESSION_KEY: "10.0.0.1", "canary": 1}, REMOTE_ADDR="10.0.0.1"
    )
    assert await middleware.aprocess_request(request) is None
    request.META["REMOTE_ADDR"] = "10.0.0.2"
    response = await middleware.aprocess_request(request)
    assert response is not None
    assert response.status_code == 400
    assert not await request.session.ahas_key("canary")


# django-session-header 1.0: the names the upgrade guide and README give ------------------


@pytest.fixture(autouse=True, scope="module")
def _django_session_header() -> Iterator[None]:
    """Find django-session-header 1.0 where tox put it (out of site-packages), else where it is installed."""
    seeds = os.environ.get("RESTRICTED_SESSIONS_SEEDS")
    if seeds:
        sys.path.append(seeds)
    yield
    if seeds:
        sys.path.remove(seeds)


@pytest.mark.parametrize("path", [UPGRADING, UPGRADING.parent.parent / "README.rst"])
def test_every_django_session_header_path_in_the_docs_imports(path: Path) -> None:
    named = set(re.findall(r"django_session_header(?:\.\w+)+", path.read_text(encoding="utf-8")))
    assert {
        "django_session_header.middleware.SessionMiddleware",
        "django_session_header.middleware.CsrfViewMiddleware",
        "django_session_header.authentication.SessionAuthentication",
    } <= named
    for dotted in named:
        assert isinstance(import_string(dotted), type)


def test_django_session_header_has_no_app_and_no_template_tag() -> None:
    import importlib.util

    import django_session_header  # type: ignore[import-untyped,import-not-found,unused-ignore]

    package = Path(django_session_header.__file__).parent
    assert importlib.util.find_spec("session_header") is None
    assert not (package / "apps.py").exists()
    assert not (package / "models.py").exists()
    assert not (package / "templatetags").exists()


@pytest.mark.parametrize("path", [UPGRADING, UPGRADING.parent.parent / "README.rst"])
def test_the_docs_name_the_real_modules(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])session_header\.", text)
    assert '"session_header"' not in text
    assert "template tag" not in text
