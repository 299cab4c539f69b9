"""User-Agent normalisation and the bounded form in which a User-Agent is stored."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

__all__ = ["DIGEST_PREFIX", "EXACT", "IGNORE_VERSIONS", "MATCH_MODES", "MAX_STORED_LENGTH", "bounded", "normalise"]

# User-Agents longer than this are stored as a digest, so a client cannot grow the session.
MAX_STORED_LENGTH = 512
DIGEST_PREFIX = "$sha256$"

EXACT = "exact"
IGNORE_VERSIONS = "ignore_versions"
MATCH_MODES = (EXACT, IGNORE_VERSIONS)

# What "ignore_versions" removes. Names stay, so another device model ("Pixel 8", "SM-S918B",
# "iPhone14,2"), app identity ("com.example.app"), OS, browser or architecture is still a change.
# Every pattern only deletes, and none has an ambiguous nested repetition: each runs in linear time.
_OS_NAMES = r"Android|Windows NT|Windows Phone|Mac OS X|[A-Za-z]*OS|CrOS \S+|Linux|Darwin|Tizen"
_PASSES = (
    # Product and key versions: "Chrome/131.0.0.0", "okhttp/4.12.0", "MyApp/v2.3", "rv:133.0", "build:23".
    (re.compile(r"(/|\b[A-Za-z]+:)v?\d[0-9A-Za-z._+-]*"), r"\1"),
    # Operating system versions: "Android 14", "iOS 16.3.1", "iPhone OS 17_1", "Mac OS X 10_15_7",
    # "Windows NT 10.0", "CrOS x86_64 15633.69.0".
    (re.compile(rf"\b({_OS_NAMES})( \d[\d._]*)+"), r"\1"),
    # Android build ids, which change with each security patch: "Build/UQ1A.240105.004".
    (re.compile(r"\bBuild/[^\s;)]*"), "Build/"),
    # Versions after a name and a space, with at least three parts: "Instagram 309.1.0.41.113".
    # Two-part numbers are left alone: they can be device models ("Nokia 7.2").
    (re.compile(r"(?<=[A-Za-z])(?: \d+[._]\d+[._][\d._]*+)+(?=[\s;),\]]|$)"), ""),
    # Comment fields that are only numbers: app build numbers ("; 541635890)"), API levels ("(34/14;").
    (re.compile(r"([(;] ?)\d[\d._/]*+(?=[;)])"), r"\1"),
)


def _strip_once(user_agent: str) -> str:
    for pattern, replacement in _PASSES:
        user_agent = pattern.sub(replacement, user_agent)
    return user_agent


# Sized for the distinct User-Agents of a busy site (at most 512 characters each: about 2 MB).
@lru_cache(maxsize=4096)
def _without_versions(user_agent: str) -> str:
    # Repeated until nothing changes, so that the result is a fixed point (normalising it again
    # changes nothing) whatever a deletion uncovers. A pass that changes something shortens the
    # string, so a User-Agent of at most MAX_STORED_LENGTH characters takes at most that many passes.
    while (stripped := _strip_once(user_agent)) != user_agent:
        user_agent = stripped
    return user_agent


def normalise(user_agent: str, mode: str) -> str:
    """The part of a User-Agent that must stay the same: all of it, or all but versions.

    ``mode`` is :data:`EXACT` (``user_agent`` is returned as it is) or :data:`IGNORE_VERSIONS`,
    which removes the version numbers of products (``Chrome/131.0.0.0``, ``okhttp/4.12.0``,
    ``rv:133.0``, ``build:23``), of operating systems (``Android 14``, ``iOS 16.3.1``,
    ``iPhone OS 17_1``, ``Windows NT 10.0``), Android build ids (``Build/UQ1A.240105.004``) and
    app build numbers (``Instagram 309.1.0.41.113``, ``; 541635890)``), and keeps every name:
    device models, app identities, operating systems, browsers and architectures. The result is
    normalised already (normalising it again returns it), and ``""`` stays ``""``. Any other
    ``mode`` counts as :data:`EXACT`; nothing raises.

    A User-Agent too long to store as it is (over :data:`MAX_STORED_LENGTH` characters) counts as
    opaque: it is compared whole (by digest), so a client cannot make every request run the version
    patterns over a huge header.
    """
    if mode != IGNORE_VERSIONS or len(user_agent) > MAX_STORED_LENGTH:
        return user_agent
    return _without_versions(user_agent)


def bounded(value: str) -> str:
    """``value`` itself, or its SHA-256 digest when it is long (or looks like a digest).

    Values of at most :data:`MAX_STORED_LENGTH` characters that do not start with
    :data:`DIGEST_PREFIX` are returned as they are; any other becomes ``DIGEST_PREFIX`` followed by
    the 64 hex digits of the SHA-256 of its UTF-8 encoding (lone surrogates included).
    """
    if len(value) <= MAX_STORED_LENGTH and not value.startswith(DIGEST_PREFIX):
        return value
    return DIGEST_PREFIX + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
