"""Make sure the system servers that the test suites run are installed.

Run by tox before the tests (``commands_pre``) and usable by hand::

    python tests/provision.py            # what the unit tests need
    python tests/provision.py e2e        # also what the end-to-end tests need
    python tests/provision.py browser    # Chromium only, for the demo's step g (example/demo.sh)

Each requirement names the programs to look for and the Debian package that provides them.
Whatever is missing is installed with ``apt-get`` when running as root (``apt-get update`` once,
then one ``apt-get install``). If anything is still missing afterwards, this exits non-zero and
says what to install: a suite never skips silently because a server is absent. When everything is
present it runs no command at all.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Requirement:
    """A program the tests run, and the Debian package that installs it."""

    package: str
    # A bare name is looked up on PATH (and in the sbin directories); a path may be a glob.
    programs: tuple[str, ...]

    def found(self) -> bool:
        return all(locate(program) for program in self.programs)


GROUPS: dict[str, tuple[Requirement, ...]] = {
    "unit": (Requirement("redis-server", ("redis-server",)),),
    "e2e": (
        Requirement(
            "postgresql",
            (
                "/usr/lib/postgresql/*/bin/postgres",
                # tests/e2e starts a throwaway cluster of its own with these.
                "/usr/lib/postgresql/*/bin/initdb",
                "/usr/lib/postgresql/*/bin/pg_ctl",
            ),
        ),
        Requirement("chromium", ("chromium",)),
        Requirement("chromium-driver", ("chromedriver",)),
        Requirement("nginx", ("nginx",)),
    ),
    # The demo's step g (example/demo.sh: DBSC in a real browser) drives Debian's Chromium.
    "browser": (Requirement("chromium", ("chromium",)),),
}
DEFAULT_GROUPS = ("unit",)
SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin"]
)
LOCK_FILE = Path(tempfile.gettempdir()) / "restricted_sessions-provision.lock"
APT_TIMEOUT_SECONDS = 30 * 60


def locate(program: str) -> str | None:
    if os.sep in program:
        matches = sorted(p for p in glob.glob(program) if os.access(p, os.X_OK))
        return matches[-1] if matches else None
    return shutil.which(program, path=SEARCH_PATH)


def missing(requirements: Sequence[Requirement]) -> list[Requirement]:
    return [req for req in requirements if not req.found()]


@contextmanager
def exclusive_lock() -> Iterator[None]:
    # `tox -p` runs several environments at once: one apt-get at a time.
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def apt_get(*args: str) -> None:
    command = [
        "apt-get",
        "-q",
        "-o",
        "DPkg::Lock::Timeout=600",
        "-o",
        "Dpkg::Use-Pty=0",
        *args,
    ]
    print("provision: running", " ".join(command), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "a"}
    subprocess.run(
        command, check=True, env=env, stdin=subprocess.DEVNULL, timeout=APT_TIMEOUT_SECONDS
    )


def install(requirements: Sequence[Requirement]) -> None:
    packages = sorted({req.package for req in requirements})
    apt_get("update")
    apt_get("install", "-y", "--no-install-recommends", *packages)


def can_install() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0 and bool(shutil.which("apt-get"))


def provision(group_names: Sequence[str]) -> int:
    requirements = [req for name in group_names for req in GROUPS[name]]
    if not missing(requirements):
        return 0
    with exclusive_lock():
        todo = missing(requirements)  # another process may have installed them meanwhile
        if todo and can_install():
            try:
                install(todo)
            except (OSError, subprocess.SubprocessError) as exc:
                print(f"provision: apt-get failed: {exc}", file=sys.stderr)
    still_missing = missing(requirements)
    if still_missing:
        packages = " ".join(sorted({req.package for req in still_missing}))
        programs = ", ".join(p for req in still_missing for p in req.programs)
        print(
            f"provision: ERROR: the test suite needs {programs}, which could not be found.\n"
            f"Install the Debian packages as root:  apt-get install {packages}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str]) -> int:
    names = list(argv) or list(DEFAULT_GROUPS)
    unknown = [name for name in names if name not in GROUPS]
    if unknown:
        print(
            f"provision: unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}",
            file=sys.stderr,
        )
        return 2
    return provision(names)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
