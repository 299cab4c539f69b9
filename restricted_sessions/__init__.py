"""Bind Django sessions to the client's IP and User-Agent, and carry them in a header."""

from __future__ import annotations

__version__ = "1.1.0"
