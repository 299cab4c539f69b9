"""A session engine whose store is down: every load raises DatabaseError (SESSION_ENGINE="tests.failing_store")."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.db import DatabaseError


class SessionStore(DatabaseStore):
    def load(self) -> dict[str, Any]:
        raise DatabaseError("the database is down")

    async def aload(self) -> dict[str, Any]:
        raise DatabaseError("the database is down")
