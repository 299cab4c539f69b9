"""Validation of the settings and the MIDDLEWARE order, as Django system checks.

The same functions run when the middleware is built, so a misconfiguration stops start-up with
``ImproperlyConfigured`` instead of surfacing at request time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from restricted_sessions.addresses import parse_networks
from restricted_sessions.conf import PREFIX, conf
from restricted_sessions.useragents import MATCH_MODES

STORE_MODES = ("raw", "hashed")

HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
RESTRICTION_MIDDLEWARE = "restricted_sessions.middleware.RestrictedSessionsMiddleware"


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _error(name: str, problem: str, hint: str, check_id: str) -> Error:
    return Error(f"{PREFIX}{name} {problem}.", hint=hint, id=check_id)


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """Report every ``RESTRICTEDSESSIONS_*`` setting whose value cannot work."""
    errors: list[CheckMessage] = []
    for name in ("RESTRICT_IP", "RESTRICT_UA", "AUTHED_ONLY", "DUAL_STACK", "REPORT_ONLY"):
        if not _is_bool(getattr(conf, name)):
            problem = f"must be True or False, not {getattr(conf, name)!r}"
            errors.append(_error(name, problem, "Set it to a boolean.", "restricted_sessions.E001"))
    if not _is_int_in(conf.IPV4_LENGTH, 0, 32):
        problem = f"must be an integer from 0 to 32, not {conf.IPV4_LENGTH!r}"
        hint = "Use 32 to bind to the exact IPv4 address, 24 for its /24 network."
        errors.append(_error("IPV4_LENGTH", problem, hint, "restricted_sessions.E002"))
    if not _is_int_in(conf.IPV6_LENGTH, 0, 128):
        problem = f"must be an integer from 0 to 128, not {conf.IPV6_LENGTH!r}"
        hint = "Use 64 (the default) to bind to the client's /64 network."
        errors.append(_error("IPV6_LENGTH", problem, hint, "restricted_sessions.E003"))
    if not _is_int_in(conf.FAILURE_STATUS, 100, 599):
        problem = f"must be an HTTP status code from 100 to 599, not {conf.FAILURE_STATUS!r}"
        hint = "Use 400 (the default), 401 or 403."
        errors.append(_error("FAILURE_STATUS", problem, hint, "restricted_sessions.E004"))
    redirect_view = conf.REDIRECT_VIEW
    if redirect_view is not None and not (isinstance(redirect_view, str) and redirect_view):
        problem = f"must be a URL name or None, not {redirect_view!r}"
        hint = "Name a URL pattern, for example 'login'."
        errors.append(_error("REDIRECT_VIEW", problem, hint, "restricted_sessions.E005"))
    remote_addr_key = conf.REMOTE_ADDR_KEY
    if not (isinstance(remote_addr_key, str) and remote_addr_key):
        problem = f"must name a request.META key, not {remote_addr_key!r}"
        hint = "Use 'REMOTE_ADDR' (the default) or, behind a proxy, 'HTTP_X_FORWARDED_FOR'."
        errors.append(_error("REMOTE_ADDR_KEY", problem, hint, "restricted_sessions.E006"))
    elif remote_addr_key != "REMOTE_ADDR" and not conf.TRUSTED_PROXIES:
        errors.append(
            Warning(
                f"{PREFIX}REMOTE_ADDR_KEY is {remote_addr_key!r} but {PREFIX}TRUSTED_PROXIES is "
                "empty: the first address of a forwarding header is chosen by the client.",
                hint="List your proxies' addresses or networks in TRUSTED_PROXIES.",
                id="restricted_sessions.W001",
            )
        )
    header = conf.SESSION_HEADER
    if header is not None and not (isinstance(header, str) and HEADER_NAME.fullmatch(header)):
        problem = f"must be an HTTP header name or None, not {header!r}"
        hint = "Use 'X-SessionID' (the default), or None to turn header sessions off."
        errors.append(_error("SESSION_HEADER", problem, hint, "restricted_sessions.E007"))
    errors.extend(_check_networks("TRUSTED_PROXIES", "restricted_sessions.E011"))
    errors.extend(_check_networks("IP_EXEMPT_NETWORKS", "restricted_sessions.E012"))
    if conf.UA_MATCH not in MATCH_MODES:
        problem = f"must be one of {MATCH_MODES}, not {conf.UA_MATCH!r}"
        hint = "Use 'ignore_versions' to keep sessions across browser updates."
        errors.append(_error("UA_MATCH", problem, hint, "restricted_sessions.E013"))
    if conf.STORE not in STORE_MODES:
        problem = f"must be one of {STORE_MODES}, not {conf.STORE!r}"
        hint = "Use 'hashed' to keep IP addresses and User-Agents out of the session store."
        errors.append(_error("STORE", problem, hint, "restricted_sessions.E014"))
    errors.extend(_check_failure_handler())
    return errors


def _check_networks(name: str, check_id: str) -> list[CheckMessage]:
    value = getattr(conf, name)
    problem = None
    if not isinstance(value, list | tuple) or not all(isinstance(entry, str) for entry in value):
        problem = f"must be a list of IP addresses or networks (strings), not {value!r}"
    else:
        try:
            parse_networks(tuple(value))
        except ValueError as error:
            problem = f"holds an entry that is not an IP address or network ({error})"
    if problem is None:
        return []
    hint = "Use entries such as '10.0.0.0/8', '192.0.2.1' or '2001:db8::/32'."
    return [_error(name, problem, hint, check_id)]


def _check_failure_handler() -> list[CheckMessage]:
    path = conf.FAILURE_HANDLER
    if path is None:
        return []
    try:
        handler = import_string(path) if isinstance(path, str) else None
    except ImportError:
        handler = None
    if callable(handler):
        return []
    problem = f"{path!r} is not the dotted path of a callable"
    hint = "Name a function taking (request, reason) and returning an HttpResponse, or None."
    return [_error("FAILURE_HANDLER", problem, hint, "restricted_sessions.E015")]


def _middleware_classes(middleware: Sequence[str]) -> list[type | None]:
    classes: list[type | None] = []
    for path in middleware:
        try:
            imported = import_string(path)
        except ImportError:
            imported = None
        classes.append(imported if isinstance(imported, type) else None)
    return classes


def _first_index(classes: list[type | None], base: type) -> int | None:
    for index, cls in enumerate(classes):
        if cls is not None and issubclass(cls, base):
            return index
    return None


def _authentication_middleware() -> type:
    """Django's AuthenticationMiddleware, or a stand-in no class derives from.

    Imported only when needed and when django.contrib.auth is installed: importing it loads the
    auth models, which a site without contrib.auth (and AUTHED_ONLY off) must not need.
    """
    if not apps.is_installed("django.contrib.auth"):
        return _NotInstalled
    from django.contrib.auth.middleware import AuthenticationMiddleware

    return AuthenticationMiddleware


class _NotInstalled:
    pass


def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    """Check that RestrictedSessionsMiddleware comes after the session (and auth) middleware."""
    from restricted_sessions.restriction import RestrictedSessionsMiddleware

    classes = _middleware_classes(list(getattr(settings, "MIDDLEWARE", None) or []))
    restriction = _first_index(classes, RestrictedSessionsMiddleware)
    if restriction is None:
        return []
    errors: list[CheckMessage] = []
    session = _first_index(classes, DjangoSessionMiddleware)
    if session is None or session > restriction:
        errors.append(
            Error(
                f"{RESTRICTION_MIDDLEWARE} must come after the session middleware in MIDDLEWARE.",
                hint="Put 'restricted_sessions.middleware.SessionMiddleware' before it.",
                id="restricted_sessions.E008",
            )
        )
    auth = _first_index(classes, _authentication_middleware()) if conf.AUTHED_ONLY is True else None
    if conf.AUTHED_ONLY is True and (auth is None or auth > restriction):
        errors.append(
            Error(
                f"With {PREFIX}AUTHED_ONLY, {RESTRICTION_MIDDLEWARE} must come after "
                "AuthenticationMiddleware in MIDDLEWARE.",
                hint="Move it below 'django.contrib.auth.middleware.AuthenticationMiddleware'.",
                id="restricted_sessions.E009",
            )
        )
    return errors


def check_redirect_view(**kwargs: Any) -> list[CheckMessage]:
    """Check that REDIRECT_VIEW can be reversed (needs the URLconf, so only here)."""
    redirect_view = conf.REDIRECT_VIEW
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


def raise_on_misconfiguration() -> None:
    """Raise ImproperlyConfigured for the first problem that can be known without the URLconf.

    Called when a middleware is built, so a bad setting stops start-up, not a request.
    """
    for error in check_settings() + check_middleware():
        if error.is_serious():
            raise ImproperlyConfigured(f"{error.msg} {error.hint} ({error.id})")
