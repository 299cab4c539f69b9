"""Settings of the real ASGI server that test_server.py starts: the test settings on a file database."""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["RESTRICTED_SESSIONS_SERVER_DB"],
    }
}

ALLOWED_HOSTS = ["127.0.0.1"]

ROOT_URLCONF = "tests.channels.urls"
