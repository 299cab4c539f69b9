"""A second URLconf that a middleware may set as ``request.urlconf``: exemptions swapped.

``exempt/`` serves a view that is NOT exempt here, and ``read/`` one that is exempt only here.
"""

from __future__ import annotations

from django.urls import include, path

from tests import views

sync_patterns = [
    path("exempt/", views.read, name="exempt"),
    path("read/", views.exempt_read, name="read"),
]

async_patterns = [
    path("exempt/", views.aread, name="exempt"),
    path("read/", views.aexempt_read, name="read"),
]

urlpatterns = [
    path("sync/", include((sync_patterns, "sync"))),
    path("async/", include((async_patterns, "async"))),
]
