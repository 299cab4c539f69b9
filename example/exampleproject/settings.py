"""Settings of the restricted_sessions example project.

Everything a deployment test may need to change comes from the environment, so the same project
runs the one-command demo (SQLite, loopback) and multi-worker set-ups (PostgreSQL or Redis
sessions, a reverse proxy, a cross-origin browser client) without edits:

- ``DJANGO_SECRET_KEY``: every worker must share it; the default is for loopback demos only.
- ``DJANGO_DEBUG``: ``1`` or ``true`` turns DEBUG on (default off).
- ``DJANGO_ALLOWED_HOSTS``, ``CSRF_TRUSTED_ORIGINS``: comma-separated.
- ``DATABASE_URL``: ``sqlite:///relative/to/example.db``, ``sqlite:////absolute/path.db`` or
  ``postgres://user:password@host:port/name``; default: the SQLite file ``SQLITE_PATH``
  (default ``example/db.sqlite3``).
- ``REDIS_URL``: ``redis://host:port/0`` makes Django's Redis cache the default cache.
- ``SESSION_ENGINE`` (default: db), ``SESSION_SAVE_EVERY_REQUEST``,
  ``SESSION_EXPIRE_AT_BROWSER_CLOSE``, ``SESSION_COOKIE_SECURE`` (JSON booleans; the demo's HTTPS
  server sets the last one).
- ``RESTRICTEDSESSIONS_*``: any setting of the library. The value is read as JSON when it parses
  (``false``, ``400``, ``null``, ``["10.0.0.0/8"]``), else as a string (``HTTP_X_FORWARDED_FOR``).
- ``CORS_ALLOWED_ORIGINS``: comma-separated origins; turns django-cors-headers on (it must be
  installed) with the session header allowed and exposed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


def env_value(name: str, default: Any) -> Any:
    """``name`` read as JSON (``true``, ``30``, ``null``, ``[...]``), or as a string if not JSON."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return value


def database_from_url(url: str) -> dict[str, Any]:
    """A ``DATABASES["default"]`` dict from a small subset of DATABASE_URL: sqlite and postgres."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/to/example.db and sqlite:////absolute/path.db, like dj-database-url.
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / path) if path else ":memory:",
        }
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_value("CONN_MAX_AGE", 0),
        }
    raise ImproperlyConfigured(f"DATABASE_URL: unsupported scheme {parts.scheme!r}; use sqlite:// or postgres://.")


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-restricted-sessions-example-only-served-on-loopback")
DEBUG = os.environ.get("DJANGO_DEBUG", "").lower() in {"1", "true", "yes", "on"}
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "restricted_sessions",  # optional: enables the library's system checks
    "exampleproject",  # templates and the demo_user command
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "restricted_sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "restricted_sessions.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "restricted_sessions.middleware.RestrictedSessionsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "exampleproject.urls"
WSGI_APPLICATION = "exampleproject.wsgi.application"
ASGI_APPLICATION = "exampleproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            # Several gunicorn workers write sessions into one file: wait for the lock, not fail.
            "OPTIONS": {"timeout": 20},
        }
    }

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    # Shared by every worker on this machine: refused keys, DPoP proofs (each used once) and
    # WebSocket tickets must be seen by all of them. A per-process local-memory cache would not be.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ.get("CACHE_DIR") or str(BASE_DIR / ".cache"),
            # A culling cache could forget a DPoP proof's jti early (restricted_sessions.E026).
            "OPTIONS": {"MAX_ENTRIES": 10**9},
        }
    }

SESSION_ENGINE = os.environ.get("SESSION_ENGINE", "django.contrib.sessions.backends.db")
SESSION_SAVE_EVERY_REQUEST = env_value("SESSION_SAVE_EVERY_REQUEST", False)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_value("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)

SESSION_COOKIE_SECURE = env_value("SESSION_COOKIE_SECURE", False)

# DPoP (RFC 9449): a header client that logs in with a proof is bound to its key. The demo shows it.
RESTRICTEDSESSIONS_DPOP = "optional"
# DBSC (device-bound sessions, docs/dbsc.rst): a login over HTTPS invites the browser to bind the
# session to a key it cannot export. Over plain HTTP nothing is invited, so nothing changes there.
# It needs a session store: signed cookies cannot forget a used challenge (restricted_sessions.E027).
RESTRICTEDSESSIONS_DBSC = not SESSION_ENGINE.endswith(".signed_cookies")

# RESTRICTEDSESSIONS_* from the environment; the library's defaults apply to the others.
for _name in sorted(os.environ):
    if _name.startswith("RESTRICTEDSESSIONS_"):
        globals()[_name] = env_value(_name, None)

# The header the library reads; the CORS settings below expose the same name.
_session_header: str | None = globals().get("RESTRICTEDSESSIONS_SESSION_HEADER", "X-SessionID")

DEFAULT_EXCEPTION_REPORTER_FILTER = "restricted_sessions.reporting.SafeExceptionReporterFilter"

if os.environ.get("CORS_ALLOWED_ORIGINS"):
    # A browser page on another origin talking to the API with the session header, cookies off.
    try:
        from corsheaders.defaults import default_headers
    except ImportError as exc:
        raise ImproperlyConfigured(
            "CORS_ALLOWED_ORIGINS is set but django-cors-headers is not installed: "
            "pip install django-cors-headers, or unset CORS_ALLOWED_ORIGINS."
        ) from exc
    INSTALLED_APPS.append("corsheaders")
    # As high as possible, so every response, the restriction's 400 included, has CORS headers.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("restricted_sessions.middleware.SessionMiddleware"),
        "corsheaders.middleware.CorsMiddleware",
    )
    CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
    CORS_EXPOSE_HEADERS = [_session_header] if _session_header else []
    CORS_ALLOW_HEADERS = (*default_headers, *([_session_header.lower()] if _session_header else []))

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "session"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # The restriction's warnings (which check failed, old and new IP) are what an operator watches.
    "loggers": {
        "restricted_sessions": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Server errors with their tracebacks, also with DEBUG off (Django only mails them).
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
