"""What the benchmark needs outside Python's standard library: its virtualenv and its servers.

Standard library only: this module runs under whatever Python started ``bench/run.py``. The
servers (redis-server, PostgreSQL) are started by ``tests/loopback.py``, the launcher the test
suites use; the Debian packages are installed the way ``tests/provision.py`` installs them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv"
STAMP = VENV / "bench-stamp.json"

DJANGO = "Django>=5.2,<5.3"
# The packages that restricted_sessions replaces, at the versions the issue measured.
SEED_RESTRICTED = "django-restricted-sessions==0.4.0"
# It pins Django<3.0: installed without its dependencies, on the benchmark's Django.
SEED_HEADER = "django-session-header==1.0"

# What the measuring needs besides Django (plots, servers, database and Redis clients).
REQUIREMENTS = ROOT / "bench" / "requirements.txt"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def ensure_venv(python: str, *, django: str, seeds: bool) -> Path:
    """Create ``bench/.venv`` (once) and install what this run needs; returns its Python.

    The project is installed editable, so the benchmark always measures the working tree.
    Each step is recorded in a stamp file and skipped on later runs.
    """
    if not venv_python().exists():
        log(f"creating {VENV.relative_to(ROOT)} with {python}")
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    done: dict[str, str] = json.loads(STAMP.read_text()) if STAMP.exists() else {}
    steps = [("django", django, [django]), ("project", str(ROOT), ["--no-deps", "-e", str(ROOT)])]
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    steps.append(("requirements", f"bench/requirements.txt ({digest})", ["-r", str(REQUIREMENTS)]))
    if seeds:
        steps.append(("seed-restricted", SEED_RESTRICTED, [SEED_RESTRICTED]))
        steps.append(("seed-header", SEED_HEADER, ["--no-deps", SEED_HEADER]))
    for name, spec, arguments in steps:
        if done.get(name) == spec:
            continue
        log(f"installing {spec}")
        pip = [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *arguments], check=True)
        done[name] = spec
        STAMP.write_text(json.dumps(done, indent=2))
    return venv_python()


def ensure_programs(*, postgres: bool) -> None:
    """Install redis-server (and PostgreSQL) from Debian as ``tests/provision.py`` does, or exit saying how."""
    from tests import provision

    needed = [provision.Requirement("redis-server", ("redis-server",))]
    if postgres:
        needed.append(
            provision.Requirement(
                "postgresql",
                (
                    "/usr/lib/postgresql/*/bin/postgres",
                    "/usr/lib/postgresql/*/bin/initdb",
                    "/usr/lib/postgresql/*/bin/pg_ctl",
                ),
            )
        )
    if provision.missing(needed) and provision.can_install():
        with provision.exclusive_lock():
            if todo := provision.missing(needed):
                provision.install(todo)
    if todo := provision.missing(needed):
        packages = " ".join(sorted({req.package for req in todo}))
        raise SystemExit(
            f"the benchmark needs the Debian packages {packages} (apt-get install {packages}),"
            " or run it with --no-servers"
        )
