"""Settings of the example project as the end-to-end servers run it.

The example project's own settings (configured from the environment, see example/README.rst),
plus a response header naming the worker process, and a fast password hasher so that logins do
not dominate the load run. ``E2E_STACK=django`` swaps the library's middleware for Django's own
session and CSRF middleware: the baseline of the fault tests.
"""

from __future__ import annotations

import os

from exampleproject.settings import *  # type: ignore[import-not-found]  # noqa: F403
from exampleproject.settings import INSTALLED_APPS, MIDDLEWARE

MIDDLEWARE = ["tests.e2e.serverside.WorkerPidMiddleware", *MIDDLEWARE]

if os.environ.get("E2E_STACK") == "django":
    MIDDLEWARE = [
        {
            "restricted_sessions.middleware.SessionMiddleware": "tests.e2e.serverside.BaselineSessionMiddleware",
            "restricted_sessions.middleware.CsrfViewMiddleware": "django.middleware.csrf.CsrfViewMiddleware",
        }.get(name, name)
        for name in MIDDLEWARE
        if name != "restricted_sessions.middleware.RestrictedSessionsMiddleware"
    ]
    # Its system checks would (rightly) object to this stack.
    INSTALLED_APPS = [name for name in INSTALLED_APPS if name != "restricted_sessions"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
