"""tox inline plugin: let tox find the Pythons that pyenv provides, with no set-up.

pyenv's shims (``python3.12`` ...) only resolve to versions named by ``PYENV_VERSION`` or a
``.python-version`` file. When ``PYENV_VERSION`` is unset and ``pyenv`` is on ``PATH``, name the
newest installed 3.11, 3.12 and 3.13 so that tox's interpreter discovery, which runs the shims,
finds every Python of the matrix. Anywhere else this does nothing.
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


def pyenv_versions(pyenv: str) -> list[str]:
    """The newest installed CPython release of each of ``PYTHONS``, in that order."""
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
        return []
    newest: dict[str, tuple[int, str]] = {}
    for line in out.split():
        match = re.fullmatch(r"(3\.\d+)\.(\d+)", line.strip())
        if match and match.group(1) in PYTHONS:
            patch = int(match.group(2))
            if match.group(1) not in newest or patch > newest[match.group(1)][0]:
                newest[match.group(1)] = (patch, line.strip())
    return [newest[minor][1] for minor in PYTHONS if minor in newest]


@impl
def tox_add_core_config(core_conf: ConfigSet, state: State) -> None:
    if os.environ.get("PYENV_VERSION"):
        return
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    versions = pyenv_versions(pyenv)
    if versions:
        os.environ["PYENV_VERSION"] = ":".join(versions)
