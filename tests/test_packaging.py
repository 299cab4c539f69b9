"""The distributions built from a clean checkout, their metadata, and which package the tests import.

The sdist is built from a copy of the files git tracks (what a clean checkout has), and the wheel
from the unpacked sdist, as ``python -m build`` does; both through setuptools' PEP 517 hooks, with
Django made unimportable, since a build must never import the package. The expected member lists
are computed from the tracked files, so a new module needs no change here.
"""

from __future__ import annotations

import email.message
import email.parser
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement

import restricted_sessions

ROOT = Path(__file__).resolve().parent.parent
NAME = "restricted_sessions"
VERSION = restricted_sessions.__version__
# Files that the sdist carries besides the package: docs sources, license, what builds it.
SDIST_EXTRAS = ("CHANGELOG.rst", "LICENSE", "MANIFEST.in", "README.rst", "pyproject.toml", "setup.py")
# Written by setuptools into every sdist.
SDIST_GENERATED = (
    "PKG-INFO",
    "setup.cfg",
    f"{NAME}.egg-info/PKG-INFO",
    f"{NAME}.egg-info/SOURCES.txt",
    f"{NAME}.egg-info/dependency_links.txt",
    f"{NAME}.egg-info/requires.txt",
    f"{NAME}.egg-info/top_level.txt",
)
WHEEL_GENERATED = ("METADATA", "RECORD", "WHEEL", "top_level.txt", "licenses/LICENSE")

BUILD = """
import sys
sys.modules["django"] = None  # a build that imports the package fails here
from setuptools import build_meta
hook = build_meta.build_sdist if sys.argv[1] == "sdist" else build_meta.build_wheel
print(hook(sys.argv[2]))
"""


@dataclass(frozen=True)
class Built:
    tracked: list[str]
    sdist: Path
    wheel: Path


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607 (git from PATH, as a developer runs it)
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    # A tracked file deleted in the work tree is not part of the next commit either.
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


def build(kind: str, source: Path, out: Path) -> Path:
    completed = subprocess.run(
        [sys.executable, "-c", BUILD, kind, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return out / completed.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("packaging")
    checkout, dist = tmp / "checkout", tmp / "dist"
    tracked = tracked_files()
    for name in tracked:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, checkout / name)
    sdist = build("sdist", checkout, dist)
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp / "unpacked", filter="data")
    wheel = build("wheel", tmp / "unpacked" / f"{NAME}-{VERSION}", dist)
    return Built(tracked, sdist, wheel)


def package_files(tracked: list[str]) -> set[str]:
    return {name for name in tracked if PurePosixPath(name).parts[0] == NAME}


def test_the_sdist_holds_the_package_docs_sources_and_license(built: Built) -> None:
    assert built.sdist.name == f"{NAME}-{VERSION}.tar.gz"
    with tarfile.open(built.sdist) as archive:
        members = {member.name for member in archive.getmembers() if member.isfile()}
    docs = {name for name in built.tracked if name.startswith("docs/")}
    expected = package_files(built.tracked) | docs | set(SDIST_EXTRAS) | set(SDIST_GENERATED)
    assert members == {f"{NAME}-{VERSION}/{name}" for name in expected}


def test_the_wheel_holds_exactly_the_package_and_license(built: Built) -> None:
    assert built.wheel.name == f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(built.wheel) as archive:
        members = set(archive.namelist())
    dist_info = {f"{NAME}-{VERSION}.dist-info/{name}" for name in WHEEL_GENERATED}
    assert members == package_files(built.tracked) | dist_info
    assert f"{NAME}/py.typed" in members


def wheel_metadata(built: Built) -> email.message.Message:
    with zipfile.ZipFile(built.wheel) as archive:
        text = archive.read(f"{NAME}-{VERSION}.dist-info/METADATA").decode()
    return email.parser.Parser().parsestr(text)


def test_the_wheel_metadata_names_an_spdx_license_and_the_project_urls(built: Built) -> None:
    metadata = wheel_metadata(built)
    assert metadata["Name"] == NAME
    assert metadata["Version"] == VERSION
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata.get_all("License-File") == ["LICENSE"]
    # PEP 639: no license classifier beside a license expression.
    assert [c for c in metadata.get_all("Classifier", []) if c.startswith("License ::")] == []
    base = "https://github.com/restricted-sessions/restricted_sessions"
    assert metadata.get_all("Project-URL") == [
        f"Documentation, {base}/tree/main/docs",
        f"Changelog, {base}/blob/main/CHANGELOG.rst",
        f"Source, {base}",
        f"Issues, {base}/issues",
    ]
    assert metadata["Description-Content-Type"] == "text/x-rst"
    assert metadata.get_payload() == (ROOT / "README.rst").read_text(encoding="utf-8")


def requirements(built: Built) -> dict[str, Requirement]:
    parsed = [Requirement(line) for line in wheel_metadata(built).get_all("Requires-Dist", [])]
    return {str(req): req for req in parsed if req.marker is None}


@pytest.mark.parametrize(
    ("version", "admitted"),
    [
        # Releases that join underscore headers into HTTP_* under ASGI (X_Forwarded_For smuggling).
        *((f"5.2.{patch}", False) for patch in range(13)),
        *((f"6.0.{patch}", False) for patch in range(4)),
        ("5.1.9", False),
        ("5.2.13", True),
        ("5.2.19", True),
        ("6.0.4", True),
        ("6.1", True),
    ],
)
def test_the_django_requirement_excludes_the_header_smuggling_releases(
    built: Built, version: str, admitted: bool
) -> None:
    (django,) = [req for req in requirements(built).values() if req.name == "Django"]
    assert django.specifier.contains(version) is admitted


def test_the_runtime_dependencies_are_declared(built: Built) -> None:
    assert sorted(req.name for req in requirements(built).values()) == ["Django", "asgiref", "netaddr"]


def tox_matrix() -> tuple[set[str], set[str]]:
    """The Python and Django versions of tox's test environments (``py312-django{52,60}``...)."""
    config = ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini", encoding="utf-8")
    pythons, djangos = set(), set()
    for python, django in re.findall(r"\bpy3(\d+)-django(\{[\d,]+\}|\d+)", config["tox"]["env_list"]):
        pythons.add(f"3.{python}")
        for version in django.strip("{}").split(","):
            djangos.add(f"{version[0]}.{version[1:]}")
    return pythons, djangos


def test_the_classifiers_match_the_tox_matrix(built: Built) -> None:
    pythons, djangos = tox_matrix()
    classifiers = wheel_metadata(built).get_all("Classifier", [])
    assert {
        c.removeprefix("Programming Language :: Python :: ") for c in classifiers if re.search(r":: 3\.\d+$", c)
    } == (pythons)
    assert {
        c.removeprefix("Framework :: Django :: ") for c in classifiers if c.startswith("Framework :: Django ::")
    } == (djangos)
    assert wheel_metadata(built)["Requires-Python"] == f">={min(pythons, key=lambda v: int(v.split('.')[1]))}"


def test_the_tests_import_the_package_they_should() -> None:
    # tox sets RESTRICTED_SESSIONS_TEST_INSTALLED=1: there the tests must import the wheel that tox
    # installed, never the checkout; a developer's `python -m pytest` imports the checkout.
    imported = Path(restricted_sessions.__file__).resolve().parent
    if os.environ.get("RESTRICTED_SESSIONS_TEST_INSTALLED") == "1":
        assert imported == Path(sysconfig.get_paths()["purelib"]).resolve() / NAME
    else:
        assert imported == ROOT / NAME
