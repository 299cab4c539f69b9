"""Helpers shared by the tests of the production features (issue 3) of RestrictedSessionsMiddleware."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import Http, stored

from restricted_sessions.binding import BINDING_SESSION_KEY, UNBOUND, Binding, parse

# The keys of 1.0 and 0.4, which sessions written by those versions hold.
IP_KEY = "_restrictedsessions_ip"
IP2_KEY = "_restrictedsessions_ip2"
UA_KEY = "_restrictedsessions_ua"
BINDING_KEY = BINDING_SESSION_KEY


def bound(data: dict[str, Any]) -> Binding:
    """The binding held by session ``data`` (as from ``stored(key)``); KeyError when none."""
    return parse(data[BINDING_KEY])


def bound_ip(data: dict[str, Any]) -> object:
    """The bound address (its stored form) of session ``data``; None when not bound."""
    ip = bound(data).ip
    return None if ip is UNBOUND else ip


def bound_cookie_session(http: Http, value: str = "mine", **kwargs: Any) -> str:
    """A browser creates a session (the response that saves it binds it); returns its key."""
    response = http.get("write", {"value": value}, **kwargs)
    assert response.status_code == 200
    key = http.cookie_key
    assert key
    return key


def kept(response: Any) -> dict[str, Any]:
    """The session data a ``read`` view saw: the request got through with its session."""
    assert response.status_code == 200
    return dict(response.json()["data"])


def assert_restricted(response: Any, key: str, status: int = 400) -> None:
    """The request was refused and its session is gone from the store."""
    assert response.status_code == status
    assert stored(key) == {}


def restriction_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "restricted_sessions" or record.name.startswith("restricted_sessions.")
    ]
