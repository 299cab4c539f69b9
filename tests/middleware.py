"""Middleware for the tests: subclasses of the library's (checks resolve classes), a URLconf switch."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from restricted_sessions.middleware import RestrictedSessionsMiddleware, SessionMiddleware


class ProjectSessionMiddleware(SessionMiddleware):
    pass


class ProjectRestrictedSessionsMiddleware(RestrictedSessionsMiddleware):
    pass


class SwapUrlconfMiddleware:
    """Sets ``request.urlconf`` to ``tests.urls_swapped`` for requests with ``X-Swap-Urlconf``."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if "X-Swap-Urlconf" in request.headers:
            request.urlconf = "tests.urls_swapped"
        return self.get_response(request)
