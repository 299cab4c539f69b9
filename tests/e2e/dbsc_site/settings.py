"""A minimal HTTPS site for the DBSC end-to-end tests, with the library's real middleware.

Configured from the environment by tests/e2e/test_dbsc_browser.py and test_dbsc_servers.py:
``DBSC_SITE_ROOT`` (SQLite database and session files), ``DBSC_SITE_LOG`` (the request log),
``DBSC_SITE_COOKIE_AGE`` (seconds), ``DBSC_SITE_NAME`` (the server's name in the log). Behind
nginx: ``DBSC_SITE_POSTGRES`` (``host:port/name``: the database, sessions in ``cached_db``),
``DBSC_SITE_REDIS`` (the cache's URL) and ``DBSC_SITE_PROXY`` (the trusted proxy's address, which
also sends ``X-Forwarded-Proto``).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ["DBSC_SITE_ROOT"])
SECRET_KEY = "restricted-sessions-dbsc-e2e-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "restricted_sessions",
]
MIDDLEWARE = [
    "tests.e2e.dbsc_site.views.RequestLog",
    "restricted_sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "restricted_sessions.middleware.RestrictedSessionsMiddleware",
]
ROOT_URLCONF = "tests.e2e.dbsc_site.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = True

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(ROOT / "site.sqlite3")}}
SESSION_ENGINE = "django.contrib.sessions.backends.file"
SESSION_FILE_PATH = str(ROOT)
if os.environ.get("DBSC_SITE_POSTGRES"):
    _address, _name = os.environ["DBSC_SITE_POSTGRES"].split("/")
    _host, _port = _address.split(":")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _name,
            "USER": "postgres",
            "HOST": _host,
            "PORT": _port,
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
if os.environ.get("DBSC_SITE_REDIS"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["DBSC_SITE_REDIS"]}
    }
if os.environ.get("DBSC_SITE_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    RESTRICTEDSESSIONS_TRUSTED_PROXIES = [os.environ["DBSC_SITE_PROXY"] + "/32"]

RESTRICTEDSESSIONS_DBSC = True
RESTRICTEDSESSIONS_DBSC_COOKIE_AGE = int(os.environ.get("DBSC_SITE_COOKIE_AGE", "5"))
RESTRICTEDSESSIONS_FAILURE_HANDLER = "tests.e2e.dbsc_site.views.refused"
DBSC_SITE_LOG = os.environ["DBSC_SITE_LOG"]
DBSC_SITE_NAME = os.environ.get("DBSC_SITE_NAME", "site")
