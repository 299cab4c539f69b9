"""Django settings for the restricted_sessions test suite."""

from __future__ import annotations

import django

SECRET_KEY = "restricted-sessions-tests-not-secret"

DEBUG = False

ALLOWED_HOSTS = ["testserver"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    }
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "restricted_sessions",
    "tests",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "restricted_sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "restricted_sessions.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "restricted_sessions.middleware.RestrictedSessionsMiddleware",
]

ROOT_URLCONF = "tests.urls"

USE_TZ = True

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        # Never culled, as restricted_sessions.E026 requires of the DPoP jti store.
        "OPTIONS": {"MAX_ENTRIES": 10**9},
    }
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "restricted_sessions.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
}

DEFAULT_EXCEPTION_REPORTER_FILTER = "restricted_sessions.reporting.SafeExceptionReporterFilter"

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Django 6.1 replaces EMAIL_BACKEND with MAILERS and warns when mail is sent without it; the test
# runner swaps every mailer for the locmem backend.
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
