"""The DBSC endpoints, to include once: ``path("dbsc/", include("restricted_sessions.dbsc.urls"))``.

Sync views (any server; under ASGI Django runs them in a thread). ``restricted_sessions.dbsc.async_urls``
routes the async views instead, for ASGI deployments. Include one of the two, not both.
"""

from __future__ import annotations

from django.urls import path

from restricted_sessions.dbsc import views

app_name = "restricted_sessions_dbsc"

urlpatterns = [
    path("registration/", views.registration, name="registration"),
    path("refresh/", views.refresh, name="refresh"),
]
