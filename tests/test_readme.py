"""The README's commands are the ones CI and the repository actually run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.rst").read_text(encoding="utf-8")


def console_commands(rst: str) -> list[str]:
    """Every ``$ command`` line of the README's console code blocks."""
    return [
        line.strip().removeprefix("$ ") for line in rst.splitlines() if line.startswith("    $ ")
    ]


def ci_command() -> str:
    """The one line of ``.ci/run`` that does the work (after ``set`` and ``cd``)."""
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[:2] == ["set -euo pipefail", 'cd "$(dirname "${BASH_SOURCE[0]}")/.."']
    assert len(lines) == 3
    return lines[2]


def section(title: str) -> str:
    """The text of the README section with this title, up to the next section."""
    start = README.index(f"\n{title}\n{'=' * len(title)}\n")
    end = README.find("\n=", start + 2 * len(title) + 3)
    return README[start : end if end != -1 else None]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert console_commands(section("Running the tests")) == [ci_command()]


def test_readme_test_command_installs_tox_and_runs_it() -> None:
    command = ci_command()
    assert command.startswith("python3 -m pip install ")
    assert "python3 -m tox" in command


def test_readme_shows_the_demo_command() -> None:
    assert console_commands(section("Demo")) == ["bash example/demo.sh"]
    assert "``bash example/demo.sh --serve``" in section("Demo")


def test_the_demo_script_exists() -> None:
    assert (ROOT / "example" / "demo.sh").is_file()
