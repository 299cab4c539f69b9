"""Django system checks: the settings (``conf.problems``) and the MIDDLEWARE order.

Registered by ``RestrictedSessionsConfig.ready()``. The settings checks read the same validation
that stops start-up when ``get_config()`` is first built, so the two never disagree. Middleware
classes are resolved with ``import_string`` and compared with ``issubclass``: subclasses count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from restricted_sessions.conf import PREFIX, problems, raw_settings

__all__ = [
    "check_dbsc_urls",
    "check_middleware",
    "check_redirect_view",
    "check_settings",
    "check_shared_cache",
    "raise_on_misconfiguration",
]

DJANGO_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
SESSION_MIDDLEWARE = "restricted_sessions.middleware.SessionMiddleware"
RESTRICTION_MIDDLEWARE = "restricted_sessions.middleware.RestrictedSessionsMiddleware"
DJANGO_CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
CSRF_MIDDLEWARE = "restricted_sessions.middleware.CsrfViewMiddleware"
SIGNED_COOKIES_ENGINE = "django.contrib.sessions.backends.signed_cookies"
#: The namespace of restricted_sessions.dbsc.urls and async_urls (``app_name``).
DBSC_URL_NAMESPACE = "restricted_sessions_dbsc"


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """Report every ``RESTRICTEDSESSIONS_*`` setting whose value cannot work."""
    values = raw_settings()
    messages: list[CheckMessage] = [
        (Error if problem.serious else Warning)(problem.message, hint=problem.hint, id=problem.id)
        for problem in problems(values)
    ]
    if values["DUAL_STACK"] is True and settings.SESSION_ENGINE == SIGNED_COOKIES_ENGINE:
        messages.append(
            Warning(
                f"{PREFIX}DUAL_STACK binds a second address family on first use, but the signed_cookies "
                "session engine keeps the binding in the cookie: anyone replaying the cookie as it "
                "was before that first use can bind a family of their own.",
                hint="Use a server-side session engine (db, cache, cached_db, file) with DUAL_STACK.",
                id="restricted_sessions.W002",
            )
        )
    return messages


def _resolve(path: str) -> type | None:
    try:
        imported = import_string(path)
    except Exception:
        # Any import-time failure: Django reports the broken path itself when it loads MIDDLEWARE.
        return None
    return imported if isinstance(imported, type) else None


def _indexes(classes: Sequence[type | None], base: type) -> list[int]:
    return [index for index, cls in enumerate(classes) if cls is not None and issubclass(cls, base)]


def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    """Check the order of the library's middleware and the mistakes that silently weaken it."""
    paths = list(getattr(settings, "MIDDLEWARE", None) or [])
    classes = [_resolve(path) for path in paths]
    restriction_class = _resolve(RESTRICTION_MIDDLEWARE)
    session_class = _resolve(SESSION_MIDDLEWARE)
    django_session_class = _resolve(DJANGO_SESSION_MIDDLEWARE)
    csrf_class = _resolve(CSRF_MIDDLEWARE)
    django_csrf_class = _resolve(DJANGO_CSRF_MIDDLEWARE)
    if (
        restriction_class is None
        or session_class is None
        or django_session_class is None
        or csrf_class is None
        or django_csrf_class is None
    ):
        return []  # pragma: no cover - the library's and Django's own modules always import
    messages: list[CheckMessage] = []
    restriction = _indexes(classes, restriction_class)
    sessions = _indexes(classes, django_session_class)
    ours = _indexes(classes, session_class)
    if restriction and (not sessions or sessions[0] > restriction[0]):
        messages.append(
            Error(
                f"{RESTRICTION_MIDDLEWARE} must come after the session middleware in MIDDLEWARE.",
                hint=f"Put '{SESSION_MIDDLEWARE}' before it.",
                id="restricted_sessions.E008",
            )
        )
    if restriction and raw_settings()["AUTHED_ONLY"] is True:
        auth = _indexes(classes, _authentication_middleware())
        if not auth or auth[0] > restriction[0]:
            messages.append(
                Error(
                    f"With {PREFIX}AUTHED_ONLY, {RESTRICTION_MIDDLEWARE} must come after "
                    "AuthenticationMiddleware in MIDDLEWARE.",
                    hint="Move it below 'django.contrib.auth.middleware.AuthenticationMiddleware'.",
                    id="restricted_sessions.E009",
                )
            )
    if ours and len(sessions) > len(ours):
        messages.append(
            Error(
                f"MIDDLEWARE lists Django's SessionMiddleware (or another subclass) together with "
                f"{SESSION_MIDDLEWARE}: the second one writes header sessions' keys into Set-Cookie.",
                hint=f"Keep only '{SESSION_MIDDLEWARE}'.",
                id="restricted_sessions.E017",
            )
        )
    if ours and not restriction and raw_settings()["SESSION_HEADER"]:
        messages.append(
            Warning(
                f"{SESSION_MIDDLEWARE} accepts session keys in a header, but "
                f"{RESTRICTION_MIDDLEWARE} is not in MIDDLEWARE: header sessions run unbound.",
                hint=f"Add '{RESTRICTION_MIDDLEWARE}' after it, or set {PREFIX}SESSION_HEADER = None.",
                id="restricted_sessions.W003",
            )
        )
    # Django's CsrfViewMiddleware (or a subclass that is not the library's) refuses header sessions' POSTs.
    djangos_csrf = [
        path
        for path, cls in zip(paths, classes, strict=True)
        if cls is not None and issubclass(cls, django_csrf_class) and not issubclass(cls, csrf_class)
    ]
    if ours and djangos_csrf and raw_settings()["SESSION_HEADER"]:
        messages.append(
            Warning(
                f"{SESSION_MIDDLEWARE} accepts session keys in a header, but MIDDLEWARE lists "
                f"{djangos_csrf[0]}, which does not skip the CSRF check for header sessions: every "
                "POST of a header client, its login included, gets 403.",
                hint=f"Use '{CSRF_MIDDLEWARE}' in its place, or set {PREFIX}SESSION_HEADER = None.",
                id="restricted_sessions.W006",
            )
        )
    return messages


def _authentication_middleware() -> type:
    """Django's AuthenticationMiddleware, or a stand-in no class derives from.

    Imported only when django.contrib.auth is installed: importing it loads the auth models, which
    a site without contrib.auth (and AUTHED_ONLY off) must not need.
    """
    if not apps.is_installed("django.contrib.auth"):
        return _NotInstalled
    from django.contrib.auth.middleware import AuthenticationMiddleware

    return AuthenticationMiddleware


class _NotInstalled:
    pass


def check_redirect_view(**kwargs: Any) -> list[CheckMessage]:
    """Check that REDIRECT_VIEW can be reversed (needs the URLconf, so only here)."""
    redirect_view = raw_settings()["REDIRECT_VIEW"]
    if not (isinstance(redirect_view, str) and redirect_view):
        return []
    try:
        reverse(redirect_view)
    except NoReverseMatch:
        return [
            Error(
                f"{PREFIX}REDIRECT_VIEW {redirect_view!r} cannot be reversed.",
                hint="Name a URL pattern that takes no arguments, or set it to None.",
                id="restricted_sessions.E010",
            )
        ]
    return []


def check_dbsc_urls(**kwargs: Any) -> list[CheckMessage]:
    """With DBSC on, check that its registration and refresh endpoints are routed (``reverse``).

    Needs the URLconf, so only here: a login would otherwise fail when it invites the browser.
    """
    if raw_settings()["DBSC"] is not True:
        return []
    try:
        for name in ("registration", "refresh"):
            reverse(f"{DBSC_URL_NAMESPACE}:{name}")
    except NoReverseMatch:
        return [
            Error(
                f"{PREFIX}DBSC is on but its endpoints are not routed.",
                hint='Add path("dbsc/", include("restricted_sessions.dbsc.urls")) to your URLconf '
                "(or restricted_sessions.dbsc.async_urls under ASGI).",
                id="restricted_sessions.E025",
            )
        ]
    return []


def check_shared_cache(**kwargs: Any) -> list[CheckMessage]:
    """``restricted_sessions.W005`` (deploy): RESTRICTEDSESSIONS_CACHE is a per-process local-memory cache."""
    from django.core.cache.backends.locmem import LocMemCache

    alias = raw_settings()["CACHE"]
    cache = settings.CACHES.get(alias) if isinstance(alias, str) else None
    backend = _resolve(str(cache.get("BACKEND", ""))) if isinstance(cache, dict) else None
    if backend is None or not issubclass(backend, LocMemCache):
        return []
    return [
        Warning(
            f"{PREFIX}CACHE names a LocMemCache, which each server process keeps for itself: with several "
            "processes, a refused session key is refused again only by the process that refused it, a DPoP "
            "proof can be used once at each process, and a WebSocket ticket redeemed once at each.",
            hint="Name a cache that all your server processes share, such as Redis or Memcached.",
            id="restricted_sessions.W005",
        )
    ]


def raise_on_misconfiguration() -> None:
    """Raise ImproperlyConfigured for the first error that can be known without the URLconf.

    Called when a middleware is built, so a misconfiguration stops start-up, not a request.
    """
    for message in check_settings() + check_middleware():
        if message.is_serious():
            raise ImproperlyConfigured(f"{message.msg} {message.hint} ({message.id})")
