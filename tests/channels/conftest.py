"""tests/channels needs the [channels] extra; the main test environments pass --ignore=tests/channels.

Without Channels installed the directory is left out, so that a plain ``pytest`` in a development
virtualenv still runs; the ``channels`` tox environment sets RESTRICTED_SESSIONS_EXTRA so that a
missing package is an error there, never a skip.
"""

from __future__ import annotations

import importlib.util
import os

if importlib.util.find_spec("channels") is None and os.environ.get("RESTRICTED_SESSIONS_EXTRA") != "channels":
    collect_ignore_glob = ["test_*.py"]
