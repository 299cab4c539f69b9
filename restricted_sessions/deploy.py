"""Make ``manage.py check --deploy`` see this package's SessionMiddleware and CsrfViewMiddleware.

Django's deploy checks (``django/core/checks/security/csrf.py`` and ``sessions.py``) ask two module
helpers, ``_csrf_middleware()`` and ``_session_middleware()``, whether Django's own dotted paths are
in MIDDLEWARE. A site that lists this package's subclasses instead got a false ``security.W003``,
lost ``security.W016``, and saw the session-cookie warnings under other ids. ``install()``
(called by ``RestrictedSessionsConfig.ready()``) wraps both helpers so that they also answer True
when MIDDLEWARE lists this package's class or a subclass of it; Django's own answer is kept
otherwise, so sites that do not use this package are judged exactly as before. Django's check
functions, messages and ids are untouched. If a Django release renames a helper,
``check_deploy_helpers`` says so (``restricted_sessions.W004``) instead of staying silent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.utils.module_loading import import_string

__all__ = ["HELPERS", "check_deploy_helpers", "install"]

#: (Django's check module, its helper, the class of this package that the helper must recognise).
HELPERS = (
    ("django.core.checks.security.csrf", "_csrf_middleware", "restricted_sessions.middleware.CsrfViewMiddleware"),
    ("django.core.checks.security.sessions", "_session_middleware", "restricted_sessions.middleware.SessionMiddleware"),
)
# Set on our wrappers: marks a helper already wrapped (ready() may run more than once).
WRAPPED = "_restricted_sessions_wraps"


def install() -> None:
    """Wrap Django's deploy-check helpers; a helper that is missing is left to ``check_deploy_helpers``."""
    for module_name, helper_name, path in HELPERS:
        module = importlib.import_module(module_name)
        original = getattr(module, helper_name, None)
        if callable(original) and not hasattr(original, WRAPPED):
            setattr(module, helper_name, _recognising(original, path))


def _recognising(original: Callable[[], Any], path: str) -> Callable[[], bool]:
    def helper() -> bool:
        return bool(original()) or _listed(path)

    setattr(helper, WRAPPED, original)
    helper.__doc__ = f"Django's {original.__name__}(), which also recognises {path} and its subclasses."
    return helper


def _listed(path: str) -> bool:
    """Whether MIDDLEWARE names the class at ``path`` or a subclass of it (an entry that fails to import is not)."""
    base = import_string(path)
    for entry in getattr(settings, "MIDDLEWARE", None) or ():
        cls = _resolve(entry)
        if isinstance(cls, type) and issubclass(cls, base):
            return True
    return False


def _resolve(entry: str) -> object:
    try:
        return import_string(entry)
    except Exception:
        # Any import-time failure: Django reports a broken MIDDLEWARE entry itself when it loads it.
        return None


def check_deploy_helpers(**kwargs: Any) -> list[CheckMessage]:
    """``restricted_sessions.W004`` for each Django helper that ``install()`` could not wrap."""
    messages: list[CheckMessage] = []
    for module_name, helper_name, path in HELPERS:
        helper = getattr(importlib.import_module(module_name), helper_name, None)
        if not hasattr(helper, WRAPPED):
            messages.append(
                Warning(
                    f"{module_name}.{helper_name} was not found (or was replaced after start-up), so Django's "
                    f"deploy checks may not recognise {path}: their CSRF and session-cookie warnings can be "
                    "missing or false.",
                    hint="Upgrade restricted_sessions for this Django release, and review the CSRF and "
                    "session-cookie deploy settings (CSRF_COOKIE_SECURE, SESSION_COOKIE_SECURE, "
                    "SESSION_COOKIE_HTTPONLY) by hand.",
                    id="restricted_sessions.W004",
                )
            )
    return messages
