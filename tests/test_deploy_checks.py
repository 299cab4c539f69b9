"""``manage.py check --deploy`` with this package's middleware == with Django's (issue 10, item 17)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.checks import Tags, run_checks
from django.core.checks.security import csrf, sessions
from django.test import override_settings

from restricted_sessions import deploy
from restricted_sessions.middleware import SessionMiddleware

OURS = {
    "session": "restricted_sessions.middleware.SessionMiddleware",
    "csrf": "restricted_sessions.middleware.CsrfViewMiddleware",
}
DJANGOS = {
    "session": "django.contrib.sessions.middleware.SessionMiddleware",
    "csrf": "django.middleware.csrf.CsrfViewMiddleware",
}


class SiteSessionMiddleware(SessionMiddleware):
    """A site's own subclass of the package's middleware."""


class OtherSessionMiddleware(DjangoSessionMiddleware):
    """A subclass of Django's that is not this package's: Django does not recognise it, nor do we."""


def middleware(classes: dict[str, str], *, session: bool, csrf_: bool) -> list[str]:
    listed = ["django.middleware.security.SecurityMiddleware"]
    if session:
        listed.append(classes["session"])
    listed.append("django.middleware.common.CommonMiddleware")
    if csrf_:
        listed.append(classes["csrf"])
    listed.append("django.contrib.auth.middleware.AuthenticationMiddleware")
    return listed


def deploy_messages(**settings: Any) -> list[tuple[str, str]]:
    """Django's own security messages (``--deploy``) for a site with ``settings``."""
    with override_settings(**settings):
        messages = run_checks(tags=[Tags.security], include_deployment_checks=True)
    return sorted((message.id or "", message.msg) for message in messages if (message.id or "").startswith("security."))


def ids(messages: list[tuple[str, str]]) -> set[str]:
    return {check_id for check_id, _ in messages}


BOOLS = (False, True)


@pytest.mark.parametrize(
    ("session", "csrf_", "csrf_secure", "csrf_use_sessions", "session_secure", "httponly"),
    list(itertools.product(BOOLS, BOOLS, BOOLS, BOOLS, BOOLS, BOOLS)),
)
def test_deploy_warnings_are_those_of_djangos_classes(
    session: bool, csrf_: bool, csrf_secure: bool, csrf_use_sessions: bool, session_secure: bool, httponly: bool
) -> None:
    common = {
        "CSRF_COOKIE_SECURE": csrf_secure,
        "CSRF_USE_SESSIONS": csrf_use_sessions,
        "SESSION_COOKIE_SECURE": session_secure,
        "SESSION_COOKIE_HTTPONLY": httponly,
    }
    ours = deploy_messages(MIDDLEWARE=middleware(OURS, session=session, csrf_=csrf_), **common)
    djangos = deploy_messages(MIDDLEWARE=middleware(DJANGOS, session=session, csrf_=csrf_), **common)
    assert ours == djangos


def test_readme_settings_give_djangos_warnings() -> None:
    # The README's MIDDLEWARE (tests.settings) and Django's defaults for the cookie settings.
    found = ids(deploy_messages(SESSION_COOKIE_HTTPONLY=False))
    assert "security.W003" not in found
    assert "security.W016" in found
    # Sessions app and middleware both present: Django's combined ids, not the app-only ones.
    assert {"security.W012", "security.W015"} <= found
    assert not {"security.W010", "security.W011", "security.W013", "security.W014"} & found


def test_a_subclass_of_the_packages_middleware_counts() -> None:
    listed = [f"{__name__}.SiteSessionMiddleware", OURS["csrf"]]
    found = ids(deploy_messages(MIDDLEWARE=listed, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False))
    assert {"security.W012", "security.W016"} <= found
    assert "security.W003" not in found


def test_djangos_answer_is_kept_for_classes_that_are_not_ours() -> None:
    listed = [f"{__name__}.OtherSessionMiddleware", "tests.no_such_module.Middleware"]
    found = ids(deploy_messages(MIDDLEWARE=listed, SESSION_COOKIE_SECURE=False))
    assert "security.W003" in found
    assert "security.W010" in found
    assert "security.W012" not in found


def test_the_helpers_are_wrapped_once() -> None:
    deploy.install()
    for helper in (csrf._csrf_middleware, sessions._session_middleware):  # type: ignore[attr-defined]
        original = getattr(helper, deploy.WRAPPED)
        assert not hasattr(original, deploy.WRAPPED)
        assert original.__module__ in ("django.core.checks.security.csrf", "django.core.checks.security.sessions")


def test_no_warning_while_the_helpers_are_wrapped() -> None:
    assert deploy.check_deploy_helpers() == []


@pytest.mark.parametrize(("module", "name"), [(csrf, "_csrf_middleware"), (sessions, "_session_middleware")])
def test_a_renamed_helper_is_a_warning(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    monkeypatch.delattr(module, name)
    deploy.install()  # nothing to wrap: must not raise
    messages = deploy.check_deploy_helpers()
    assert [message.id for message in messages] == ["restricted_sessions.W004"]
    assert f"{module.__name__}.{name}" in messages[0].msg


def test_a_helper_replaced_after_start_up_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csrf, "_csrf_middleware", lambda: True)
    assert [message.id for message in deploy.check_deploy_helpers()] == ["restricted_sessions.W004"]


def test_the_warning_is_a_deploy_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sessions, "_session_middleware")
    with override_settings(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True):
        plain = run_checks(tags=[Tags.security])
        deployed = run_checks(tags=[Tags.security], include_deployment_checks=True)
    assert "restricted_sessions.W004" not in {message.id for message in plain}
    assert "restricted_sessions.W004" in {message.id for message in deployed}


# restricted_sessions.W005: a per-process cache behind refused keys, DPoP proofs and tickets --------

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10**9}}
REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1"}


def _cache_warnings(deploy: bool) -> list[str]:
    messages = run_checks(tags=[Tags.caches], include_deployment_checks=deploy)
    return [message.id for message in messages if message.id and message.id.startswith("restricted_sessions.")]


@pytest.mark.parametrize(
    ("caches", "alias", "expected"),
    [
        ({"default": LOCMEM}, "default", ["restricted_sessions.W005"]),
        ({"default": REDIS, "local": LOCMEM}, "local", ["restricted_sessions.W005"]),
        ({"default": LOCMEM, "shared": REDIS}, "shared", []),
        ({"default": REDIS}, "default", []),
        ({"default": REDIS}, "missing", []),
    ],
)
def test_a_per_process_cache_is_a_deploy_warning(caches: dict[str, Any], alias: str, expected: list[str]) -> None:
    with override_settings(CACHES=caches, RESTRICTEDSESSIONS_CACHE=alias):
        assert _cache_warnings(deploy=True) == expected
        assert _cache_warnings(deploy=False) == []
