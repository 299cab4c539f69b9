"""The entry point that older tools still call; the project's metadata is in pyproject.toml."""

from __future__ import annotations

from setuptools import setup

setup()
