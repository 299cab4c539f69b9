"""Django REST framework authentication that accepts header sessions without CSRF."""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication as DRFSessionAuthentication
from rest_framework.request import Request

from restricted_sessions.middleware import is_header_session

__all__ = ["SessionAuthentication"]


class SessionAuthentication(DRFSessionAuthentication):
    """DRF's SessionAuthentication, skipping ``enforce_csrf`` for header sessions only."""

    def enforce_csrf(self, request: Request) -> None:
        if is_header_session(request._request):
            return
        super().enforce_csrf(request)
