"""The site's URLs: the async DBSC endpoints, or the sync ones with ``DBSC_SITE_WSGI`` (for gunicorn)."""

from __future__ import annotations

import os

from django.urls import include, path

from tests.e2e.dbsc_site import views

ENDPOINTS = "restricted_sessions.dbsc." + ("urls" if os.environ.get("DBSC_SITE_WSGI") else "async_urls")

urlpatterns = [
    path("login/", views.login),
    path("page/", views.page),
    path("logout/", views.logout),
    path("healthz/", views.healthz),
    path("dbsc/", include(ENDPOINTS)),
]
