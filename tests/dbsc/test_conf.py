"""The DBSC settings accessor and its validation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from restricted_sessions.conf import get_config, raw_settings
from restricted_sessions.dbsc.conf import DbscSettings
from restricted_sessions.dbsc.conf import problems as dbsc_problems


def dbsc_settings() -> DbscSettings:
    return get_config().dbsc


def problems() -> list[tuple[str, str]]:
    return dbsc_problems(raw_settings())


def test_defaults() -> None:
    assert dbsc_settings() == DbscSettings(
        enabled=False,
        cookie_name="__Host-rs-dbsc",
        cookie_age=600,
        challenge_age=300,
        algorithms=("ES256", "RS256"),
        restrict_ip=True,
    )
    assert problems() == []


def test_a_changed_setting_is_seen_at_once() -> None:
    assert dbsc_settings().cookie_age == 600
    with override_settings(RESTRICTEDSESSIONS_DBSC_COOKIE_AGE=30, RESTRICTEDSESSIONS_DBSC_ALGORITHMS=["RS256"]):
        assert (dbsc_settings().cookie_age, dbsc_settings().algorithms) == (30, ("RS256",))
    assert dbsc_settings().cookie_age == 600


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DBSC", "yes"),
        ("DBSC_RESTRICT_IP", 1),
        ("DBSC_COOKIE_AGE", 0),
        ("DBSC_COOKIE_AGE", True),
        ("DBSC_CHALLENGE_AGE", 1.5),
        ("DBSC_COOKIE_NAME", ""),
        ("DBSC_COOKIE_NAME", "a;b"),
        ("DBSC_COOKIE_NAME", None),
        ("DBSC_ALGORITHMS", []),
        ("DBSC_ALGORITHMS", "ES256"),
        ("DBSC_ALGORITHMS", ["ES256", "none"]),
        ("DBSC_ALGORITHMS", None),
    ],
)
def test_values_that_cannot_work_are_reported(name: str, value: Any) -> None:
    with override_settings(**{f"RESTRICTEDSESSIONS_{name}": value}):
        assert [found for found, _ in problems()] == [name]
