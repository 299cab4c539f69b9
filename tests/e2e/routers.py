"""Database router of the in-process end-to-end tests."""

from __future__ import annotations

from typing import Any

from django.conf import settings


class SessionRouter:
    """Sessions live in ``settings.E2E_SESSION_DATABASE`` (read per query, so overridable)."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if model._meta.app_label != "sessions":
            return None
        return str(settings.E2E_SESSION_DATABASE)  # type: ignore[misc]

    db_for_write = db_for_read
