"""The binding helpers under their old import path; they live in ``tests.helpers``."""

from __future__ import annotations

from tests.helpers import (
    BINDING_KEY,
    IP2_KEY,
    IP_KEY,
    UA_KEY,
    assert_restricted,
    bound,
    bound_cookie_session,
    bound_ip,
    kept,
    restriction_records,
)

__all__ = [
    "BINDING_KEY",
    "IP2_KEY",
    "IP_KEY",
    "UA_KEY",
    "assert_restricted",
    "bound",
    "bound_cookie_session",
    "bound_ip",
    "kept",
    "restriction_records",
]
