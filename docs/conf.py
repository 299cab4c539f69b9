"""Sphinx configuration for the restricted_sessions documentation."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

import restricted_sessions  # noqa: E402

# autodoc imports the modules, which need configured Django settings. A minimal configuration
# is enough and, unlike the test settings, needs no running service.
if not settings.configured:
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "rest_framework",
            "restricted_sessions",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
    )
django.setup()

project = "restricted_sessions"
author = "restricted_sessions contributors"
copyright = "2026, restricted_sessions contributors"
release = restricted_sessions.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]
# The API page documents the optional integrations too; where an extra is not installed, autodoc
# imports the module against a stand-in instead of failing.
autodoc_mock_imports = [
    name for name in ("channels", "ninja", "httpx", "joserfc", "cryptography") if importlib.util.find_spec(name) is None
]
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "furo"
html_title = f"restricted_sessions {release}"


def setup(app: Any) -> None:
    # `.. setting:: NAME` marks a settings entry; `:setting:`NAME`` links to it.
    app.add_crossref_type(
        directivename="setting",
        rolename="setting",
        indextemplate="pair: %s; setting",
    )
