"""RESTRICTEDSESSIONS_FAILURE_HANDLER targets used by the tests: (request, reason) -> HttpResponse."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse


def json_failure(request: HttpRequest, reason: str) -> HttpResponse:
    """What an API would answer: JSON, 401."""
    return JsonResponse(
        {"error": "session_restricted", "reason": reason, "path": request.path, "handler": "sync"},
        status=401,
    )


async def ajson_failure(request: HttpRequest, reason: str) -> HttpResponse:
    return JsonResponse(
        {"error": "session_restricted", "reason": reason, "path": request.path, "handler": "async"},
        status=401,
    )


NOT_CALLABLE = "a string, not a function"
