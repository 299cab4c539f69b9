"""A NinjaAPI guarded by restricted_sessions.ninja.SessionAuth, next to the core test URLs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import include, path
from ninja import NinjaAPI

from restricted_sessions.middleware import is_header_session
from restricted_sessions.ninja import SessionAuth

api = NinjaAPI(urls_namespace="restricted_sessions_ninja", auth=SessionAuth())


def _me(request: HttpRequest) -> dict[str, Any]:
    return {"user": request.auth.get_username(), "header_session": is_header_session(request)}  # type: ignore[attr-defined]


@api.api_operation(["GET", "POST"], "/sync/me")
def me(request: HttpRequest) -> dict[str, Any]:
    return _me(request)


@api.api_operation(["GET", "POST"], "/async/me")
async def ame(request: HttpRequest) -> dict[str, Any]:
    return _me(request)


@api.post("/sync/no-csrf", auth=SessionAuth(csrf=False))
def no_csrf(request: HttpRequest) -> dict[str, Any]:
    return _me(request)


@api.post("/async/no-csrf", auth=SessionAuth(csrf=False))
async def ano_csrf(request: HttpRequest) -> dict[str, Any]:
    return _me(request)


urlpatterns = [
    path("ninja/", api.urls),
    path("", include("tests.urls")),
]
