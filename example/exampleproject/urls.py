"""URLs of the example project."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from exampleproject import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("session/", views.session_page, name="session"),
    path("api/login/", views.api_login, name="api-login"),
    path("api/me/", views.api_me, name="api-me"),
    path("api/logout/", views.api_logout, name="api-logout"),
    # The DBSC registration and refresh endpoints (sync views: the demo serves WSGI).
    path("dbsc/", include("restricted_sessions.dbsc.urls")),
]
