"""The site's pages, its failure handler, and a request log for the tests.

Every request is logged as one JSON line (server, method, path, status, DBSC headers seen, the body
of DBSC answers), so the tests can tell when the browser registered, refreshed and stopped, and
which server answered.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth import alogin, alogout, get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden

from restricted_sessions.conf import get_config
from restricted_sessions.dbsc import protocol

PAGE = "<!doctype html><title>{title}</title><p id=user>{user}</p>"
SERVED_BY = "X-Served-By"


class RequestLog:
    """Log each request and its answer (outermost, so that refusals are logged too)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        return _logged(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        assert not isinstance(response, HttpResponseBase)
        return _logged(request, await response)


def _logged(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    dbsc = request.path.startswith("/dbsc/")
    entry = {
        "server": settings.DBSC_SITE_NAME,  # type: ignore[misc]
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "session_id": request.headers.get(protocol.SESSION_ID_HEADER),
        "proof": protocol.RESPONSE_HEADER in request.headers,
        "bound_cookie": get_config().dbsc.cookie_name in request.COOKIES,
        "registration": protocol.REGISTRATION_HEADER in response,
        "body": response.content.decode() if isinstance(response, HttpResponse) and dbsc else "",
    }
    with open(settings.DBSC_SITE_LOG, "a") as log:  # type: ignore[misc]
        log.write(json.dumps(entry) + "\n")
    response[SERVED_BY] = settings.DBSC_SITE_NAME  # type: ignore[misc]
    return response


def refused(request: HttpRequest, reason: str) -> HttpResponse:
    """RESTRICTEDSESSIONS_FAILURE_HANDLER: 403 naming the reason."""
    return HttpResponseForbidden(f"refused: {reason}")


async def login(request: HttpRequest) -> HttpResponse:
    """Log in the user ``demo`` (created on first use): the engine invites the browser to register."""
    user, _ = await get_user_model().objects.aget_or_create(username="demo")
    await alogin(request, user)
    return HttpResponse(PAGE.format(title="logged in", user="demo"))


async def page(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(PAGE.format(title="page", user=user.get_username() if user.is_authenticated else "anonymous"))


async def logout(request: HttpRequest) -> HttpResponse:
    """Log out: the engine expires the bound cookie, and the next refresh ends the browser's session."""
    await alogout(request)
    return HttpResponse(PAGE.format(title="logged out", user="anonymous"))


async def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
