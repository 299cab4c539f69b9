"""Request headers, read so that a name spelled with underscores never stands in for the real one.

``X_Forwarded_For`` and ``X-Forwarded-For`` both map to ``HTTP_X_FORWARDED_FOR``. WSGI servers and
Django's ASGI handler (since 5.2.13 and 6.0.4) drop names with an underscore; older ASGI handlers
join both into one ``META`` value, so a client could append an address after its proxy's or send a
session key under the wrong name. :func:`header` reads such a value from the hyphen-spelled headers only.
"""

from __future__ import annotations

from collections.abc import Sequence

import django
from django.http import HttpRequest

__all__ = ["SCAN_ASGI_HEADERS", "drops_underscored_headers", "header", "meta_key_of", "scope_header"]


def drops_underscored_headers(version: tuple[int | str, ...]) -> bool:
    """True for the Django releases (``django.VERSION``) whose ASGI handler drops header names with "_"."""
    release = tuple(part for part in version[:3] if isinstance(part, int))
    return release >= (6, 0, 4) or (5, 2, 13) <= release < (6, 0)


# Decided once: with a Django that drops them, META never holds an underscored header.
SCAN_ASGI_HEADERS = not drops_underscored_headers(django.VERSION)


def meta_key_of(raw_name: bytes) -> str:
    """The ``request.META`` key Django's ASGIRequest files a raw header name under."""
    name = raw_name.decode("latin1")
    if name == "content-length":
        return "CONTENT_LENGTH"
    if name == "content-type":
        return "CONTENT_TYPE"
    return "HTTP_" + name.upper().replace("-", "_")


def header(request: HttpRequest, meta_key: str) -> str | None:
    """The value of a header by its ``META`` key (``"HTTP_X_FORWARDED_FOR"``), or ``None``.

    Under WSGI, and under ASGI with a Django that drops underscored names, ``request.META[meta_key]``.
    Under ASGI with an older Django (``request.scope`` exists): when a raw header name with "_" maps
    to ``meta_key``, the value rebuilt from the hyphen-spelled headers only, joined with "," as
    Django joins repeated headers, or ``None`` if there are none. The raw names are scanned only then.
    """
    value: str | None = request.META.get(meta_key)
    if value is None or not SCAN_ASGI_HEADERS:
        return value
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict):
        return value
    return scope_header(scope.get("headers") or (), meta_key, value)


def scope_header(headers: Sequence[tuple[bytes, bytes]], meta_key: str, joined: str) -> str | None:
    """``joined`` (the ``META`` value), or, if an underscored name fed it, the hyphen-spelled values only."""
    if not any(b"_" in name and meta_key_of(name) == meta_key for name, _ in headers):
        return joined
    values = [value.decode("latin1") for name, value in headers if b"_" not in name and meta_key_of(name) == meta_key]
    return ",".join(values) if values else None
