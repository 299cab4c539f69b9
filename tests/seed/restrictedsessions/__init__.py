"""Stands in for django-restricted-sessions 0.4's package, so its own tests run against restricted_sessions."""

from __future__ import annotations
