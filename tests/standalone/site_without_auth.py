"""A site without django.contrib.auth: the middleware must build and work (run by a test)."""

from __future__ import annotations

import sys

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

settings.configure(
    SECRET_KEY="not-secret",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "restricted_sessions.middleware.SessionMiddleware",
        "restricted_sessions.middleware.RestrictedSessionsMiddleware",
    ],
    INSTALLED_APPS=["django.contrib.sessions", "restricted_sessions"],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
)
django.setup()


def write(request: HttpRequest) -> HttpResponse:
    request.session["n"] = 1
    return HttpResponse("ok")


urlpatterns = [path("write/", write)]

if __name__ == "__main__":
    from django.core.management import call_command
    from django.test import Client

    call_command("check", fail_level="WARNING")
    client = Client()
    first = client.get("/write/", HTTP_USER_AGENT="Browser/1")
    replayed = client.get("/write/", HTTP_USER_AGENT="Other/1")
    print(first.status_code, replayed.status_code)
    sys.exit(0 if (first.status_code, replayed.status_code) == (200, 400) else 1)
