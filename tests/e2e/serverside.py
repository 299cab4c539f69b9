"""Instrumentation that the end-to-end servers add to the example project (never shipped)."""

from __future__ import annotations

import os
from collections.abc import Callable

from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponseBase

WORKER_HEADER = "X-Worker-Pid"


class WorkerPidMiddleware:
    """Names the worker process that answered, so a test can see its requests reach every worker."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.pid = str(os.getpid())

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response[WORKER_HEADER] = self.pid
        return response


class BaselineSessionMiddleware(SessionMiddleware):
    """Django's own SessionMiddleware, for the baseline stack the fault tests compare with.

    It only adds ``request.session.csrf_exempt = False``, which the example's views display.
    """

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.session.csrf_exempt = False  # type: ignore[attr-defined]
