"""0.4's ``restrictedsessions.middleware``: only re-exports restricted_sessions' class and 0.4's key names."""

from __future__ import annotations

from restricted_sessions.binding import IP_SESSION_KEY as SESSION_IP_KEY
from restricted_sessions.binding import UA_SESSION_KEY as SESSION_UA_KEY
from restricted_sessions.middleware import RestrictedSessionsMiddleware

__all__ = ["SESSION_IP_KEY", "SESSION_UA_KEY", "RestrictedSessionsMiddleware"]
