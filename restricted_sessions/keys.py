"""What a session key sent in a request header may look like, per session engine.

A header value is checked before any session backend sees it, so junk never reaches a cache key,
a file name or a query, and anything that fails the check is simply an unknown key.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, SessionBase
from django.contrib.sessions.backends.signed_cookies import SessionStore as SignedCookieStore

__all__ = ["SIGNED_KEY_PATTERN", "STORE_KEY_PATTERN", "key_validator", "meta_key"]

# Django's stores make 32-character keys; the database column holds at most 40.
STORE_KEY_PATTERN = re.compile(f"[{re.escape(VALID_KEY_CHARS)}]{{8,40}}")
# A signed_cookies "key" is the signed session data itself: URL-safe base64 parts joined by
# ":" (a leading "." marks compressed data). Browsers keep at most 4096 bytes in a cookie.
SIGNED_KEY_PATTERN = re.compile(r"[A-Za-z0-9_\-:.]{8,4096}")


def key_validator(store_class: type[SessionBase]) -> Callable[[str], bool]:
    """Return a predicate that accepts only values ``store_class`` could have issued as keys."""
    pattern = SIGNED_KEY_PATTERN if issubclass(store_class, SignedCookieStore) else STORE_KEY_PATTERN
    return lambda value: pattern.fullmatch(value) is not None


def meta_key(header_name: str) -> str:
    """The ``request.META`` key of an HTTP header name (``X-SessionID`` -> ``HTTP_X_SESSIONID``)."""
    return "HTTP_" + header_name.upper().replace("-", "_")
