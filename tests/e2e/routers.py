"""Database router of the in-process end-to-end tests."""

from __future__ import annotations

from typing import Any

from django.conf import settings


class SessionRouter:
    """Sessions live in ``settings.E2E_SESSION_DATABASE`` (read per query, so overridable)."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return settings.E2E_SESSION_DATABASE if model._meta.app_label == "sessions" else None

    db_for_write = db_for_read
