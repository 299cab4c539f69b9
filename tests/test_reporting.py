"""restricted_sessions.reporting.SafeExceptionReporterFilter: the session header stays out of error reports."""

from __future__ import annotations

import sys
from typing import Any

import django
import pytest
from django.core import mail
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter
from django.views.debug import SafeExceptionReporterFilter as DjangoFilter

from restricted_sessions.reporting import SafeExceptionReporterFilter
from tests.helpers import Http, start_header_session

pytestmark = pytest.mark.django_db

SECRET_KEY_VALUE = "k3yth4tmustn0tl34kk3yth4tmustn0t"

ADMINS = ["admin@example.com"] if django.VERSION >= (6, 0) else [("Admin", "admin@example.com")]


def test_is_a_subclass_of_djangos_filter() -> None:
    assert issubclass(SafeExceptionReporterFilter, DjangoFilter)


def test_the_session_header_is_redacted_from_request_meta() -> None:
    request = RequestFactory().get("/", headers={"X-SessionID": SECRET_KEY_VALUE})
    reporter_filter = SafeExceptionReporterFilter()

    meta = reporter_filter.get_safe_request_meta(request)

    assert meta["HTTP_X_SESSIONID"] == reporter_filter.cleansed_substitute
    assert SECRET_KEY_VALUE not in repr(meta)


def test_other_headers_are_kept() -> None:
    request = RequestFactory().get("/", headers={"X-Other": "visible"})

    assert SafeExceptionReporterFilter().get_safe_request_meta(request)["HTTP_X_OTHER"] == "visible"


@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER="X-App-Session")
def test_a_custom_session_header_is_redacted() -> None:
    request = RequestFactory().get("/", headers={"X-App-Session": SECRET_KEY_VALUE})

    meta = SafeExceptionReporterFilter().get_safe_request_meta(request)

    assert SECRET_KEY_VALUE not in repr(meta)


@override_settings(RESTRICTEDSESSIONS_SESSION_HEADER=None)
def test_header_sessions_off_still_works() -> None:
    request = RequestFactory().get("/", headers={"X-Other": "visible"})

    assert SafeExceptionReporterFilter().get_safe_request_meta(request)["HTTP_X_OTHER"] == "visible"


def _report_html(request: Any) -> str:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return ExceptionReporter(request, *sys.exc_info()).get_traceback_html()


def test_the_configured_filter_keeps_the_header_out_of_exception_reports() -> None:
    request = RequestFactory().get("/", headers={"X-SessionID": SECRET_KEY_VALUE})

    html = _report_html(request)

    assert "HTTP_X_SESSIONID" in html
    assert SECRET_KEY_VALUE not in html


@override_settings(DEBUG=True)
def test_the_technical_500_page_does_not_show_the_session_header(header_http: Http) -> None:
    key = start_header_session(header_http)
    header_http.client.raise_request_exception = False

    response = header_http.get("error", key=key)

    assert response.status_code == 500
    assert b"HTTP_X_SESSIONID" in response.content
    assert key.encode() not in response.content


@override_settings(ADMINS=ADMINS, DEBUG=False)
def test_the_error_email_to_admins_does_not_show_the_session_header(header_http: Http) -> None:
    key = start_header_session(header_http)
    header_http.client.raise_request_exception = False

    response = header_http.get("error", key=key)

    assert response.status_code == 500
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "HTTP_X_SESSIONID" in message.body
    assert key not in message.body
    assert all(key not in str(content) for content, _ in getattr(message, "alternatives", []))
