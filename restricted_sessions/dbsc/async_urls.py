"""The DBSC endpoints as async views, for ASGI: ``path("dbsc/", include("restricted_sessions.dbsc.async_urls"))``."""

from __future__ import annotations

from django.urls import path

from restricted_sessions.dbsc import views

app_name = "restricted_sessions_dbsc"

urlpatterns = [
    path("registration/", views.aregistration, name="registration"),
    path("refresh/", views.arefresh, name="refresh"),
]
