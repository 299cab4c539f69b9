"""The ``RESTRICTEDSESSIONS_DBSC*`` settings: their defaults, validation and typed form.

``restricted_sessions.conf`` reads them with every other setting into the one ``Config``
(``get_config().dbsc``); ``problems()`` feeds its validation. Nothing here reads Django's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SUPPORTED_ALGORITHMS = ("ES256", "RS256")

DEFAULTS: dict[str, Any] = {
    "DBSC": False,
    "DBSC_COOKIE_NAME": "__Host-rs-dbsc",
    "DBSC_COOKIE_AGE": 600,
    "DBSC_CHALLENGE_AGE": 300,
    "DBSC_ALGORITHMS": list(SUPPORTED_ALGORITHMS),
    "DBSC_RESTRICT_IP": True,
}


@dataclass(frozen=True, slots=True)
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


def build(values: Mapping[str, Any]) -> DbscSettings:
    """The DBSC settings from ``values`` (every ``DEFAULTS`` name; valid values: see ``problems``)."""
    return DbscSettings(
        enabled=values["DBSC"],
        cookie_name=values["DBSC_COOKIE_NAME"],
        cookie_age=values["DBSC_COOKIE_AGE"],
        challenge_age=values["DBSC_CHALLENGE_AGE"],
        algorithms=tuple(values["DBSC_ALGORITHMS"]),
        restrict_ip=values["DBSC_RESTRICT_IP"],
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(setting name, problem) for each DBSC setting whose value cannot work; empty when all can."""
    found: list[tuple[str, str]] = []
    for name in ("DBSC", "DBSC_RESTRICT_IP"):
        if not isinstance(values[name], bool):
            found.append((name, f"must be True or False, not {values[name]!r}"))
    for name in ("DBSC_COOKIE_AGE", "DBSC_CHALLENGE_AGE"):
        if not _positive_int(values[name]):
            found.append((name, f"must be a positive number of seconds, not {values[name]!r}"))
    cookie_name = values["DBSC_COOKIE_NAME"]
    if not isinstance(cookie_name, str) or not cookie_name or any(c in cookie_name for c in ' ;,="\t'):
        found.append(("DBSC_COOKIE_NAME", f"must be a cookie name, not {cookie_name!r}"))
    algorithms = values["DBSC_ALGORITHMS"]
    if (
        isinstance(algorithms, str)
        or not isinstance(algorithms, list | tuple)
        or not algorithms
        or any(a not in SUPPORTED_ALGORITHMS for a in algorithms)
    ):
        found.append(("DBSC_ALGORITHMS", f"must be a non-empty list drawn from {SUPPORTED_ALGORITHMS}"))
    return found
