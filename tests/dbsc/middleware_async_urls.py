"""URLconf of the DBSC engine tests: the test site's views and the async DBSC endpoints."""

from __future__ import annotations

from django.urls import include, path

from tests import urls

urlpatterns = [*urls.urlpatterns, path("dbsc/", include("restricted_sessions.dbsc.async_urls"))]
