"""Helpers shared by the tests of the production features (issue 3) of RestrictedSessionsMiddleware."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import Http, stored

IP_KEY = "_restrictedsessions_ip"
IP2_KEY = "_restrictedsessions_ip2"
UA_KEY = "_restrictedsessions_ua"


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
