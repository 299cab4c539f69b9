"""Helpers that start tests/e2e/dbsc_site: the servers' environment, the migration.

``self_signed`` (the certificate) is the demo's, in example/dbsc_chromium.py, shared with it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from example.dbsc_chromium import self_signed
from tests.e2e.servers import REPO, run

__all__ = ["migrate", "self_signed", "site_env"]


def site_env(root: Path, log: Path, name: str, cookie_age: int, **more: str) -> dict[str, str]:
    """The environment of a server of tests/e2e/dbsc_site."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DBSC_SITE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.e2e.dbsc_site.settings",
        DBSC_SITE_ROOT=str(root),
        DBSC_SITE_LOG=str(log),
        DBSC_SITE_NAME=name,
        DBSC_SITE_COOKIE_AGE=str(cookie_age),
        PYTHONPATH=str(REPO),
        **more,
    )
    env.pop("PYTHONDEVMODE", None)
    return env


def migrate(env: dict[str, str]) -> None:
    run([sys.executable, "-m", "django", "migrate", "--noinput", "--verbosity", "0"], "migrate the DBSC site",
        env=env, cwd=REPO)
