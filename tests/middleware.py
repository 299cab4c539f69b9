"""Middleware for the tests: subclasses of the library's (checks resolve classes), a URLconf switch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest

from restricted_sessions.middleware import RestrictedSessionsMiddleware, SessionMiddleware


class ProjectSessionMiddleware(SessionMiddleware):
    pass


class ProjectRestrictedSessionsMiddleware(RestrictedSessionsMiddleware):
    pass


class SwapUrlconfMiddleware:
    """Sets ``request.urlconf`` to ``tests.urls_swapped`` for requests with ``X-Swap-Urlconf``.

    Sync and async, so that under ASGI the chain around it stays async.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if "X-Swap-Urlconf" in request.headers:
            request.urlconf = "tests.urls_swapped"
        return self.get_response(request)
