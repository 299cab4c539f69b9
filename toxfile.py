"""tox inline plugin: let tox find the Pythons that pyenv provides, with no set-up.

pyenv's shims (``python3.12`` ...) only resolve to versions named by ``PYENV_VERSION`` (or a
``.python-version`` file or ``pyenv global``). When ``pyenv`` is on ``PATH``, make sure
``PYENV_VERSION`` names the newest installed 3.11, 3.12 and 3.13, so that tox's interpreter
discovery, which runs the shims, finds every Python of the matrix. Versions already named stay
first: running tox through a shim (``python3 -m tox``) sets ``PYENV_VERSION`` to that one Python.
Without pyenv, or when every Python of the matrix is already named, this does nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

from tox.plugin import impl

if TYPE_CHECKING:
    from tox.config.sets import ConfigSet
    from tox.session.state import State

PYTHONS = ("3.11", "3.12", "3.13")
RELEASE = re.compile(r"(3\.\d+)\.(\d+)")


def newest_installed(pyenv: str) -> dict[str, str]:
    """The newest installed CPython release of each of ``PYTHONS``, by minor version."""
    try:
        out = subprocess.run(
            [pyenv, "versions", "--bare"],
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    newest: dict[str, tuple[int, str]] = {}
    for version in out.split():
        match = RELEASE.fullmatch(version)
        if match and match.group(1) in PYTHONS:
            minor, patch = match.group(1), int(match.group(2))
            if minor not in newest or patch > newest[minor][0]:
                newest[minor] = (patch, version)
    return {minor: version for minor, (_, version) in newest.items()}


def extended_pyenv_version(current: str, installed: dict[str, str]) -> str:
    """``current`` (a ``:``-separated PYENV_VERSION) plus the installed Pythons it lacks."""
    named = [version for version in current.split(":") if version]
    covered = {match.group(1) for version in named if (match := RELEASE.fullmatch(version))}
    named += [installed[minor] for minor in PYTHONS if minor in installed and minor not in covered]
    return ":".join(named)


@impl
def tox_add_core_config(core_conf: ConfigSet, state: State) -> None:
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    current = os.environ.get("PYENV_VERSION", "")
    wanted = extended_pyenv_version(current, newest_installed(pyenv))
    if wanted and wanted != current:
        os.environ["PYENV_VERSION"] = wanted
