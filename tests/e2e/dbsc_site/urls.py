from __future__ import annotations

from django.urls import include, path

from tests.e2e.dbsc_site import views

urlpatterns = [
    path("login/", views.login),
    path("page/", views.page),
    path("logout/", views.logout),
    path("healthz/", views.healthz),
    path("dbsc/", include("restricted_sessions.dbsc.async_urls")),
]
