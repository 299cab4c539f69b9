"""Keep the session header out of Django's error reports and debug pages."""

from __future__ import annotations

from typing import Any

from django.views.debug import SafeExceptionReporterFilter as DjangoSafeExceptionReporterFilter

from restricted_sessions.conf import conf
from restricted_sessions.keys import meta_key


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
        header = conf.SESSION_HEADER
        if header and meta_key(header) in meta:
            meta[meta_key(header)] = self.cleansed_substitute
        return meta
