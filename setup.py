"""Packaging for restricted_sessions; tool settings live in pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def read_version() -> str:
    """Read ``__version__`` without importing the package (which needs Django)."""
    text = (HERE / "restricted_sessions" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if match is None:
        raise RuntimeError("restricted_sessions/__init__.py must define __version__")
    return match.group(1)


setup(
    name="restricted_sessions",
    version=read_version(),
    description=(
        "Django middleware that binds sessions to the client's IP and User-Agent "
        "and carries session keys in a header for cookieless clients."
    ),
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    author="restricted_sessions contributors",
    license="BSD-3-Clause",
    packages=find_packages(
        exclude=["tests", "tests.*", "example", "example.*", "bench", "bench.*", "docs", "docs.*"]
    ),
    package_data={"restricted_sessions": ["py.typed"]},
    include_package_data=True,
    zip_safe=False,
    python_requires=">=3.11",
    install_requires=["Django>=5.2"],
    extras_require={
        "drf": ["djangorestframework>=3.15"],
        "channels": ["channels>=4.1"],
        "ninja": ["django-ninja>=1.3"],
    },
    keywords=["django", "sessions", "security", "middleware", "session-hijacking"],
    classifiers=[
        "Development Status :: 5 - Production/Stable",
        "Environment :: Web Environment",
        "Framework :: Django",
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: BSD License",
        "Operating System :: OS Independent",
        "Programming Language :: Python",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Internet :: WWW/HTTP",
        "Topic :: Internet :: WWW/HTTP :: Session",
        "Topic :: Security",
        "Typing :: Typed",
    ],
)
