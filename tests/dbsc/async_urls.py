from __future__ import annotations

from django.urls import include, path

from tests.dbsc.urls import alogin

urlpatterns = [
    path("login/", alogin),
    path("dbsc/", include("restricted_sessions.dbsc.async_urls")),
]
