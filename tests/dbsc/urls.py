"""URLconfs of the DBSC view tests: a login that invites registration, and the endpoints (sync or async)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from restricted_sessions.dbsc.protocol import REGISTRATION_HEADER
from restricted_sessions.dbsc.session import aregistration_header, registration_header


def login(request: HttpRequest) -> HttpResponse:
    request.session["user"] = "alice"
    response = HttpResponse("logged in")
    header = registration_header(request)
    if header is not None:
        response[REGISTRATION_HEADER] = header
    return response


async def alogin(request: HttpRequest) -> HttpResponse:
    await request.session.aset("user", "alice")
    response = HttpResponse("logged in")
    header = await aregistration_header(request)
    if header is not None:
        response[REGISTRATION_HEADER] = header
    return response


urlpatterns = [
    path("login/", login),
    path("dbsc/", include("restricted_sessions.dbsc.urls")),
]
