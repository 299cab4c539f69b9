"""A minimal HTTPS site for the DBSC browser test: sessions in files, the DBSC endpoints, one gate.

Configured from the environment by tests/e2e/test_dbsc_browser.py (cookie lifetime in seconds,
where the session files and the request log go).
"""

from __future__ import annotations

import os

SECRET_KEY = "restricted-sessions-dbsc-e2e-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
USE_TZ = True
INSTALLED_APPS = ["django.contrib.sessions"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tests.e2e.dbsc_site.views.DeviceBoundGate",
]
ROOT_URLCONF = "tests.e2e.dbsc_site.urls"
SESSION_ENGINE = "django.contrib.sessions.backends.file"
SESSION_FILE_PATH = os.environ["DBSC_SITE_SESSIONS"]
SESSION_COOKIE_SECURE = True
RESTRICTEDSESSIONS_DBSC = True
RESTRICTEDSESSIONS_DBSC_COOKIE_AGE = int(os.environ.get("DBSC_SITE_COOKIE_AGE", "5"))
DBSC_SITE_LOG = os.environ["DBSC_SITE_LOG"]
