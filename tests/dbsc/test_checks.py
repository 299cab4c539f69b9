"""The system check of DBSC's URLs: restricted_sessions.E025 when DBSC is on and its endpoints are not routed."""

from __future__ import annotations

from django.core.checks import run_checks
from django.test import override_settings

from restricted_sessions.checks import check_dbsc_urls


def ids() -> list[str]:
    return [message.id for message in run_checks(tags=["urls"]) if message.id]


@override_settings(RESTRICTEDSESSIONS_DBSC=True, ROOT_URLCONF="tests.urls")
def test_dbsc_on_without_its_endpoints_is_an_error_that_names_the_fix() -> None:
    (error,) = check_dbsc_urls()
    assert error.id == "restricted_sessions.E025"
    assert error.is_serious()
    assert error.hint is not None
    assert 'include("restricted_sessions.dbsc.urls")' in error.hint
    assert "restricted_sessions.E025" in ids()


@override_settings(RESTRICTEDSESSIONS_DBSC=True, ROOT_URLCONF="tests.dbsc.middleware_urls")
def test_dbsc_on_with_the_sync_endpoints_is_fine() -> None:
    assert check_dbsc_urls() == []
    assert "restricted_sessions.E025" not in ids()


@override_settings(RESTRICTEDSESSIONS_DBSC=True, ROOT_URLCONF="tests.dbsc.middleware_async_urls")
def test_dbsc_on_with_the_async_endpoints_is_fine() -> None:
    assert check_dbsc_urls() == []


@override_settings(RESTRICTEDSESSIONS_DBSC=False, ROOT_URLCONF="tests.urls")
def test_dbsc_off_needs_no_endpoints() -> None:
    assert check_dbsc_urls() == []
