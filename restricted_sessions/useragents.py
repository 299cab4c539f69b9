"""User-Agent normalisation and the bounded form in which a User-Agent is stored."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

# User-Agents longer than this are stored as a digest, so a client cannot grow the session.
MAX_STORED_LENGTH = 512
DIGEST_PREFIX = "$sha256$"

EXACT = "exact"
IGNORE_VERSIONS = "ignore_versions"
MATCH_MODES = (EXACT, IGNORE_VERSIONS)

# Versions of products ("Chrome/131.0.0.0", "rv:133.0") and of operating systems
# ("Android 14", "iPhone OS 17_1", "Windows NT 10.0"). Device names ("Pixel 8", "SM-S918B")
# are kept, so a change of device is still a change.
_PRODUCT_VERSION = re.compile(r"(/|\brv:)\d[0-9A-Za-z._+-]*")
_OS_VERSION = re.compile(r"\b(Android|Windows NT|Windows Phone|Mac OS X|OS|CrOS \S+|Linux) \d[\d._]*")


@lru_cache(maxsize=1024)
def _without_versions(user_agent: str) -> str:
    return _OS_VERSION.sub(r"\1", _PRODUCT_VERSION.sub(r"\1", user_agent))


def normalise(user_agent: str, mode: str) -> str:
    """The part of a User-Agent that must stay the same: all of it, or all but versions.

    A User-Agent too long to store as it is counts as opaque: it is compared whole (by digest),
    so a client cannot make every request run the version patterns over a huge header.
    """
    if mode != IGNORE_VERSIONS or len(user_agent) > MAX_STORED_LENGTH:
        return user_agent
    return _without_versions(user_agent)


def bounded(value: str) -> str:
    """``value`` itself, or its SHA-256 digest when it is long (or looks like a digest)."""
    if len(value) <= MAX_STORED_LENGTH and not value.startswith(DIGEST_PREFIX):
        return value
    return DIGEST_PREFIX + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
