"""Reading request headers so that a name spelled with underscores never passes for another."""

from __future__ import annotations

from django.http import HttpRequest

__all__ = ["header"]


def header(request: HttpRequest, meta_key: str) -> str | None:
    """The value of the header whose ``request.META`` key is ``meta_key``, or None."""
    value = request.META.get(meta_key)
    return value if isinstance(value, str) else None
