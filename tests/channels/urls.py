"""The core test URLs plus the WebSocket ticket view."""

from __future__ import annotations

from django.urls import include, path

from restricted_sessions.channels import ticket_view

urlpatterns = [
    path("ws-ticket/", ticket_view, name="ws-ticket"),
    path("", include("tests.urls")),
]
