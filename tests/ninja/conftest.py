"""tests/ninja needs the [ninja] extra; the main test environments pass --ignore=tests/ninja.

Without django-ninja installed the directory is left out, so that a plain ``pytest`` in a
development virtualenv still runs; the ``ninja`` tox environment sets RESTRICTED_SESSIONS_EXTRA
so that a missing package is an error there, never a skip.
"""

from __future__ import annotations

import importlib.util
import os

if importlib.util.find_spec("ninja") is None and os.environ.get("RESTRICTED_SESSIONS_EXTRA") != "ninja":
    collect_ignore_glob = ["test_*.py"]
