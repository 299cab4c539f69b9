"""Keep the session header out of Django's error reports and debug pages."""

from __future__ import annotations

from typing import Any

from django.views.debug import SafeExceptionReporterFilter as DjangoSafeExceptionReporterFilter

from restricted_sessions.conf import get_config

__all__ = ["SafeExceptionReporterFilter"]


class SafeExceptionReporterFilter(DjangoSafeExceptionReporterFilter):
    """Django's filter that also redacts the session header, as Django redacts the session cookie.

    Django already hides ``HTTP_COOKIE``; the session key sent in ``X-SessionID`` (META key
    ``HTTP_X_SESSIONID``) is just as secret. Enable with::

        DEFAULT_EXCEPTION_REPORTER_FILTER = (
            "restricted_sessions.reporting.SafeExceptionReporterFilter"
        )
    """

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        meta: dict[str, Any] = super().get_safe_request_meta(request)
        key = get_config().session_header_meta_key
        if key and key in meta:
            meta[key] = self.cleansed_substitute
        return meta
