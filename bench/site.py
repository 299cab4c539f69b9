"""The benchmark's Django site: settings, and one view per scenario (sync for WSGI, async for ASGI)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.urls import path

SECRET_KEY = "benchmark-secret-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
# A shared-cache in-memory database, so that the threads ASGIHandler runs sync code in see the
# same tables; a connection held by the benchmark keeps it alive between requests.
DATABASE_URI = "file:restricted_sessions_bench?mode=memory&cache=shared"


def settings(redis_url: str | None) -> dict[str, Any]:
    """Django settings for the benchmark; each stack overrides MIDDLEWARE and SESSION_ENGINE."""
    cache: dict[str, Any] = (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
        if redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
    return {
        "DEBUG": False,
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": ["testserver"],
        "ROOT_URLCONF": "bench.site",
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
        ],
        "MIDDLEWARE": [],
        # Persistent connections (as production WSGI sites run them), so the baseline carries no
        # connect cost per request. Under ASGI Django opens one per request thread anyway.
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": DATABASE_URI,
                "CONN_MAX_AGE": None,
            }
        },
        "CACHES": {"default": cache},
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        "USE_TZ": True,
        "LOGGING_CONFIG": None,
    }


def database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for a ``postgres://user@host:port/dbname`` URL (persistent connections)."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "HOST": parts.hostname,
        "PORT": parts.port,
        "CONN_MAX_AGE": None,
    }


class PassThroughMiddleware:
    """A middleware that does nothing (a control): what one more layer costs, sync and async.

    It has a ``process_view``, as RestrictedSessionsMiddleware has (async under ASGI, as ours).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)
            self.process_view = self._aprocess_view

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        return None

    async def _aprocess_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        return None


USER = "alice"


def read(request: HttpRequest) -> HttpResponse:
    """Steady state: a page that reads the session."""
    return HttpResponse(request.session.get("user", "-"))


def anonymous(request: HttpRequest) -> HttpResponse:
    """A page that never touches the session (a bot, a health check, a public page)."""
    return HttpResponse("ok")


def login(request: HttpRequest) -> HttpResponse:
    """The first request of a session: the view writes to it, as a login does."""
    request.session["user"] = USER
    return HttpResponse("ok")


def login_padded(request: HttpRequest) -> HttpResponse:
    """A login that also stores what restricted_sessions binds (default settings), for a control."""
    from ipaddress import ip_address

    from bench.stacks import CHROME, Client
    from restricted_sessions.binding import BINDING_SESSION_KEY, Policy, Presented

    binding = Policy().new_binding(Presented(ip_address(Client().remote_addr), CHROME))
    request.session.update({"user": USER, BINDING_SESSION_KEY: binding.encode()})
    return HttpResponse("ok")


async def aread(request: HttpRequest) -> HttpResponse:
    return HttpResponse(await request.session.aget("user", "-"))


async def aanonymous(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


async def alogin(request: HttpRequest) -> HttpResponse:
    await request.session.aset("user", USER)
    return HttpResponse("ok")


async def alogin_padded(request: HttpRequest) -> HttpResponse:
    return await sync_to_async(login_padded)(request)


urlpatterns = [
    path("read", read),
    path("anonymous", anonymous),
    path("login", login),
    path("aread", aread),
    path("aanonymous", aanonymous),
    path("alogin", alogin),
    path("login_padded", login_padded),
    path("alogin_padded", alogin_padded),
]
