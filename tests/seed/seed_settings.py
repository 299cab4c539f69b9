"""Settings for django-restricted-sessions 0.4.0's own tests (as its runtests.py set them up)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

SECRET_KEY = "seed-tests-not-secret"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "seed_settings"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("test_view")


urlpatterns = [path("test_view/", test_view, name="test_view")]
