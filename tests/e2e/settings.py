"""Django settings of the in-process end-to-end tests: the example project against real stores.

The example project's apps, URLs and middleware, with two databases: ``default`` (SQLite) and
``postgres`` (the throwaway cluster that tests/e2e/conftest.py starts at the place named here).
The ``sessions`` app lives in the database named by ``E2E_SESSION_DATABASE``, which the store
fixtures override, so the ``db`` engine runs on either.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from tests.e2e.servers import EXAMPLE, free_port

if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

SECRET_KEY = "restricted-sessions-e2e-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "restricted_sessions",
    "exampleproject",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "restricted_sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "restricted_sessions.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "restricted_sessions.middleware.RestrictedSessionsMiddleware",
]

ROOT_URLCONF = "exampleproject.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

# Where the PostgreSQL cluster will run: chosen here because Django reads DATABASES once.
_port = free_port()
E2E_POSTGRES = {"port": _port, "root": str(Path(tempfile.gettempdir()) / f"rs-e2e-pg-{os.getpid()}-{_port}")}

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "e2e",
        "USER": "postgres",
        "HOST": E2E_POSTGRES["root"],
        "PORT": str(E2E_POSTGRES["port"]),
    },
}
DATABASE_ROUTERS = ["tests.e2e.routers.SessionRouter"]
E2E_SESSION_DATABASE = "default"

# Never culled, as restricted_sessions.E026 requires of the DPoP jti store.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10**9}}}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_FILE_PATH = str(Path(tempfile.gettempdir()))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
