"""Views and URLconf of the reliability tests (properties, concurrency); each view is sync and async.

The tests select it with ``settings.ROOT_URLCONF = "tests.reliability_urls"``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path


def _public(items: Any) -> dict[str, Any]:
    return {key: value for key, value in items if not key.startswith("_")}


# Sync views


def peek(request: HttpRequest) -> HttpResponse:
    """Returns the session data it was given, then writes to the session (so the session is saved)."""
    data = _public(request.session.items())
    request.session["seen"] = int(data.get("seen", 0)) + 1
    return JsonResponse({"data": data})


def look(request: HttpRequest) -> HttpResponse:
    """Reads the session, never writes it."""
    return JsonResponse({"data": _public(request.session.items())})


def put(request: HttpRequest) -> HttpResponse:
    """Writes ``?key=`` = ``?value=`` into the session."""
    request.session[request.GET["key"]] = request.GET["value"]
    return JsonResponse({"data": _public(request.session.items())})


def flush(request: HttpRequest) -> HttpResponse:
    """Ends the session, as ``logout`` does."""
    request.session.flush()
    return HttpResponse("flushed")


# A sync view that parks until the test releases it: ``GATES[name]`` = (entered, release).
GATES: dict[str, tuple[threading.Event, threading.Event]] = {}


def gated_put(request: HttpRequest) -> HttpResponse:
    """Like ``put``, but waits in the view (after loading the session) until the test releases it."""
    request.session[request.GET["key"]] = request.GET["value"]
    entered, release = GATES[request.GET["gate"]]
    entered.set()
    if not release.wait(timeout=30):
        raise RuntimeError("the test never released the gate")
    return JsonResponse({"data": _public(request.session.items())})


# Async views


async def apeek(request: HttpRequest) -> HttpResponse:
    data = _public(await request.session.aitems())
    await request.session.aset("seen", int(data.get("seen", 0)) + 1)
    return JsonResponse({"data": data})


async def alook(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"data": _public(await request.session.aitems())})


async def aput(request: HttpRequest) -> HttpResponse:
    await request.session.aset(request.GET["key"], request.GET["value"])
    return JsonResponse({"data": _public(await request.session.aitems())})


async def aflush(request: HttpRequest) -> HttpResponse:
    await request.session.aflush()
    return HttpResponse("flushed")


AGATES: dict[str, tuple[asyncio.Event, asyncio.Event]] = {}


async def agated_put(request: HttpRequest) -> HttpResponse:
    await request.session.aset(request.GET["key"], request.GET["value"])
    entered, release = AGATES[request.GET["gate"]]
    entered.set()
    await asyncio.wait_for(release.wait(), timeout=30)
    return JsonResponse({"data": _public(await request.session.aitems())})


sync_patterns = [
    path("peek/", peek, name="peek"),
    path("look/", look, name="look"),
    path("put/", put, name="put"),
    path("flush/", flush, name="flush"),
    path("gated-put/", gated_put, name="gated-put"),
]
async_patterns = [
    path("peek/", apeek, name="peek"),
    path("look/", alook, name="look"),
    path("put/", aput, name="put"),
    path("flush/", aflush, name="flush"),
    path("gated-put/", agated_put, name="gated-put"),
]
urlpatterns = [
    path("sync/", include((sync_patterns, "sync"))),
    path("async/", include((async_patterns, "async"))),
]
