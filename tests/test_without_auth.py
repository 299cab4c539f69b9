"""The library needs only django.contrib.sessions: a site without contrib.auth starts and works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_site_without_contrib_auth_passes_its_checks_and_restricts_sessions() -> None:
    # Its own process: INSTALLED_APPS cannot change under a running Django.
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "standalone" / "site_without_auth.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-2:] == ["200", "400"]
