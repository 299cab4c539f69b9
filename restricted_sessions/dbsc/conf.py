"""The ``RESTRICTEDSESSIONS_DBSC*`` settings, read through one accessor.

``dbsc_settings()`` returns one immutable, typed object, built on first use and rebuilt after any
``RESTRICTEDSESSIONS_*`` setting changes (Django's ``setting_changed``, sent by
``override_settings``), so the hot path pays one cached call. ``problems()`` lists what cannot work,
for the system checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

PREFIX = "RESTRICTEDSESSIONS_"
SUPPORTED_ALGORITHMS = ("ES256", "RS256")

DEFAULTS: dict[str, Any] = {
    "DBSC": False,
    "DBSC_COOKIE_NAME": "__Host-rs-dbsc",
    "DBSC_COOKIE_AGE": 600,
    "DBSC_CHALLENGE_AGE": 300,
    "DBSC_ALGORITHMS": SUPPORTED_ALGORITHMS,
    "DBSC_RESTRICT_IP": True,
}


@dataclass(frozen=True)
class DbscSettings:
    """The DBSC settings as the protocol uses them.

    ``enabled``: DBSC on (``RESTRICTEDSESSIONS_DBSC``). ``cookie_name``: the bound cookie
    (``__Host-`` prefixed by default: Secure, Path=/, no Domain). ``cookie_age``: its lifetime in
    seconds. ``challenge_age``: how long, in seconds, a challenge can be answered. ``algorithms``:
    the signature algorithms offered, most preferred first. ``restrict_ip``: whether a device-bound
    session still gets the IP check (False lets laptops change networks; a copied cookie still fails
    for want of the bound cookie).
    """

    enabled: bool
    cookie_name: str
    cookie_age: int
    challenge_age: int
    algorithms: tuple[str, ...]
    restrict_ip: bool


def _get(name: str) -> Any:
    return getattr(settings, PREFIX + name, DEFAULTS[name])


@lru_cache(maxsize=1)
def dbsc_settings() -> DbscSettings:
    """The current DBSC settings (valid values assumed: see ``problems``)."""
    return DbscSettings(
        enabled=_get("DBSC"),
        cookie_name=_get("DBSC_COOKIE_NAME"),
        cookie_age=_get("DBSC_COOKIE_AGE"),
        challenge_age=_get("DBSC_CHALLENGE_AGE"),
        algorithms=tuple(_get("DBSC_ALGORITHMS")),
        restrict_ip=_get("DBSC_RESTRICT_IP"),
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def problems() -> list[tuple[str, str]]:
    """(setting name, problem) for each DBSC setting whose value cannot work; empty when all can."""
    found: list[tuple[str, str]] = []
    for name in ("DBSC", "DBSC_RESTRICT_IP"):
        if not isinstance(_get(name), bool):
            found.append((name, f"must be True or False, not {_get(name)!r}"))
    for name in ("DBSC_COOKIE_AGE", "DBSC_CHALLENGE_AGE"):
        if not _positive_int(_get(name)):
            found.append((name, f"must be a positive number of seconds, not {_get(name)!r}"))
    cookie_name = _get("DBSC_COOKIE_NAME")
    if not isinstance(cookie_name, str) or not cookie_name or any(c in cookie_name for c in ' ;,="\t'):
        found.append(("DBSC_COOKIE_NAME", f"must be a cookie name, not {cookie_name!r}"))
    algorithms = _get("DBSC_ALGORITHMS")
    if (
        isinstance(algorithms, str)
        or not isinstance(algorithms, list | tuple)
        or not algorithms
        or any(a not in SUPPORTED_ALGORITHMS for a in algorithms)
    ):
        found.append(("DBSC_ALGORITHMS", f"must be a non-empty list drawn from {SUPPORTED_ALGORITHMS}"))
    return found


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(PREFIX):
        dbsc_settings.cache_clear()
