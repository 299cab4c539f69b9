"""Subclasses of the library's middleware, to show that checks resolve classes (subclasses count)."""

from __future__ import annotations

from restricted_sessions.middleware import RestrictedSessionsMiddleware, SessionMiddleware


class ProjectSessionMiddleware(SessionMiddleware):
    pass


class ProjectRestrictedSessionsMiddleware(RestrictedSessionsMiddleware):
    pass
