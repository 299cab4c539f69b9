"""Views the tests drive: each exists as a sync view and as an ``async def`` view."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import alogin, alogout, get_user_model, login, logout
from django.contrib.sessions.models import Session
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def _public_data(session: Any) -> dict[str, Any]:
    """The session's data without the middleware's own underscore keys."""
    return {key: value for key, value in session.items() if not key.startswith("_")}


# Sync views


def read(request: HttpRequest) -> HttpResponse:
    """Reads the session, never modifies it."""
    return JsonResponse({"data": _public_data(request.session)})


def write(request: HttpRequest) -> HttpResponse:
    """Stores ``?value=`` (default "x") in the session."""
    request.session["value"] = request.GET.get("value", "x")
    return JsonResponse({"stored": request.session["value"]})


def untouched(request: HttpRequest) -> HttpResponse:
    """Never touches the session."""
    return HttpResponse("untouched")


def flag(request: HttpRequest) -> HttpResponse:
    """Reports ``request.session.csrf_exempt``."""
    return JsonResponse({"csrf_exempt": request.session.csrf_exempt})  # type: ignore[attr-defined]


@csrf_exempt
def login_view(request: HttpRequest) -> HttpResponse:
    """Logs in the user named by POST ``username``; no password, these are tests."""
    user = get_user_model().objects.get(username=request.POST["username"])
    login(request, user)
    return JsonResponse({"user": user.get_username()})


@csrf_exempt
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return JsonResponse({"user": None})


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})


def error(request: HttpRequest) -> HttpResponse:
    """Writes the session, then fails: a 500."""
    request.session["value"] = "written-before-the-error"
    raise RuntimeError("boom")


def interrupted(request: HttpRequest) -> HttpResponse:
    """Writes the session while a concurrent request (simulated) deletes it: Django's SessionInterrupted."""
    request.session["value"] = "lost"
    Session.objects.filter(pk=request.session.session_key).delete()
    return HttpResponse("interrupted")


def form(request: HttpRequest) -> HttpResponse:
    """A plain CSRF-protected view (POST)."""
    return HttpResponse("posted")


def landing(request: HttpRequest) -> HttpResponse:
    """Where RESTRICTEDSESSIONS_REDIRECT_VIEW points in the tests."""
    return HttpResponse("landing")


# Async views


async def aread(request: HttpRequest) -> HttpResponse:
    data = {key: value async for key, value in _aitems(request.session)}
    return JsonResponse({"data": data})


async def _aitems(session: Any) -> Any:
    for key, value in await session.aitems():
        if not key.startswith("_"):
            yield key, value


async def awrite(request: HttpRequest) -> HttpResponse:
    value = request.GET.get("value", "x")
    await request.session.aset("value", value)
    return JsonResponse({"stored": value})


async def auntouched(request: HttpRequest) -> HttpResponse:
    return HttpResponse("untouched")


async def aflag(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"csrf_exempt": request.session.csrf_exempt})  # type: ignore[attr-defined]


@csrf_exempt
async def alogin_view(request: HttpRequest) -> HttpResponse:
    user = await get_user_model().objects.aget(username=request.POST["username"])
    await alogin(request, user)
    return JsonResponse({"user": user.get_username()})


@csrf_exempt
async def alogout_view(request: HttpRequest) -> HttpResponse:
    await alogout(request)
    return JsonResponse({"user": None})


async def awhoami(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})


async def aerror(request: HttpRequest) -> HttpResponse:
    await request.session.aset("value", "written-before-the-error")
    raise RuntimeError("boom")


async def ainterrupted(request: HttpRequest) -> HttpResponse:
    await request.session.aset("value", "lost")
    await Session.objects.filter(pk=request.session.session_key).adelete()
    return HttpResponse("interrupted")


async def aform(request: HttpRequest) -> HttpResponse:
    return HttpResponse("posted")


# Django REST framework (sync only: DRF has no async views)


class Api(APIView):
    """POST with the configured DEFAULT_AUTHENTICATION_CLASSES (our SessionAuthentication)."""

    def post(self, request: Request) -> Response:
        return Response({"user": request.user.get_username()})


api = Api.as_view()


# restriction_exempt (issue 3): views that are never blocked by a changed binding

from django.views import View  # noqa: E402

from restricted_sessions.decorators import restriction_exempt  # noqa: E402


@restriction_exempt
def exempt_read(request: HttpRequest) -> HttpResponse:
    """Like ``read``, but never refused."""
    return JsonResponse({"data": _public_data(request.session)})


@restriction_exempt
async def aexempt_read(request: HttpRequest) -> HttpResponse:
    data = {key: value async for key, value in _aitems(request.session)}
    return JsonResponse({"data": data})


class ReadView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"data": _public_data(request.session)})


class AsyncReadView(View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        data = {key: value async for key, value in _aitems(request.session)}
        return JsonResponse({"data": data})


exempt_read_cbv = restriction_exempt(ReadView.as_view())
aexempt_read_cbv = restriction_exempt(AsyncReadView.as_view())
exempt_logout = restriction_exempt(logout_view)
aexempt_logout = restriction_exempt(alogout_view)
exempt_login = restriction_exempt(login_view)
aexempt_login = restriction_exempt(alogin_view)


# Conditional GET: a page with validators whose view may cycle, write or end the session.

ETAG = '"page-v1"'
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


def _validated(text: str) -> HttpResponse:
    response = HttpResponse(text)
    response["ETag"] = ETAG
    response["Last-Modified"] = LAST_MODIFIED
    return response


def conditional(request: HttpRequest) -> HttpResponse:
    """``?do=cycle`` cycles the key, ``write`` writes, ``flush`` ends the session, else reads it."""
    action = request.GET.get("do")
    if action == "cycle":
        request.session.cycle_key()
    elif action == "write":
        request.session["value"] = "conditional"
    elif action == "flush":
        request.session.flush()
    else:
        request.session.get("value")
    return _validated("page")


async def aconditional(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("do")
    if action == "cycle":
        await request.session.acycle_key()
    elif action == "write":
        await request.session.aset("value", "conditional")
    elif action == "flush":
        await request.session.aflush()
    else:
        await request.session.aget("value")
    return _validated("page")


# RESTRICTEDSESSIONS_FAILURE_HANDLER targets that tell who the request's user is after the refusal.


def user_failure(request: HttpRequest, reason: str) -> HttpResponse:
    user = request.user
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None}, status=403)


async def auser_failure(request: HttpRequest, reason: str) -> HttpResponse:
    """Tells both what ``request.user`` and what ``request.auser()`` say."""
    users = (request.user, await request.auser())
    names = [user.get_username() if user.is_authenticated else None for user in users]
    return JsonResponse({"user": names[0], "auser": names[1]}, status=403)


def no_response(request: HttpRequest, reason: str) -> None:
    """A broken handler: returns None, which must never let the request through."""


async def ano_response(request: HttpRequest, reason: str) -> None:
    pass


def text_response(request: HttpRequest, reason: str) -> str:
    return "not a response"
