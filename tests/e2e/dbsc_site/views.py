"""The site's pages and its gate: a stand-in for the engine until DBSC is wired into the middleware.

Every request is logged as one JSON line (method, path, status, DBSC headers seen), so the test
can tell when the browser registered, refreshed and stopped refreshing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden

from restricted_sessions.dbsc import protocol
from restricted_sessions.dbsc.session import REASON, abound_cookie_valid, aregistration_header, end_session

PAGE = "<!doctype html><title>{title}</title><p id=user>{user}</p>"


class DeviceBoundGate:
    """Refuse any request of a device-bound session without a valid bound cookie (DBSC endpoints aside)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase
        if not request.path.startswith("/dbsc/") and not await abound_cookie_valid(request, request.session):
            response = HttpResponseForbidden(f"refused: {REASON}")
        else:
            response = await self.get_response(request)
        dbsc = request.path.startswith("/dbsc/")
        entry = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "session_id": request.headers.get(protocol.SESSION_ID_HEADER),
            "proof": protocol.RESPONSE_HEADER in request.headers,
            "body": response.content.decode() if isinstance(response, HttpResponse) and dbsc else "",
        }
        with open(settings.DBSC_SITE_LOG, "a") as log:  # type: ignore[misc]
            log.write(json.dumps(entry) + "\n")
        return response


async def login(request: HttpRequest) -> HttpResponse:
    await request.session.aset("user", "demo")
    response = HttpResponse(PAGE.format(title="logged in", user="demo"))
    header = await aregistration_header(request)
    if header is not None:
        response[protocol.REGISTRATION_HEADER] = header
    return response


async def page(request: HttpRequest) -> HttpResponse:
    user: Any = await request.session.aget("user", "anonymous")
    return HttpResponse(PAGE.format(title="page", user=user))


async def logout(request: HttpRequest) -> HttpResponse:
    await request.session.aflush()
    response = HttpResponse(PAGE.format(title="logged out", user="anonymous"))
    end_session(response)
    return response


async def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
