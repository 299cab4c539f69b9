"""The Django app: registers the system checks and makes ``check --deploy`` see our middleware."""

from __future__ import annotations

from django.apps import AppConfig
from django.core.checks import Tags, register

__all__ = ["RestrictedSessionsConfig"]


class RestrictedSessionsConfig(AppConfig):
    name = "restricted_sessions"
    verbose_name = "Restricted sessions"

    def ready(self) -> None:
        from restricted_sessions import deploy
        from restricted_sessions.checks import (
            check_dbsc_urls,
            check_middleware,
            check_redirect_view,
            check_settings,
            check_shared_cache,
        )

        register(Tags.security)(check_settings)
        register(Tags.security)(check_middleware)
        register(Tags.urls)(check_redirect_view)
        register(Tags.urls)(check_dbsc_urls)
        # So that Django's own deploy checks recognise this package's middleware (issue 10, item 17).
        deploy.install()
        register(Tags.security, deploy=True)(deploy.check_deploy_helpers)
        register(Tags.caches, deploy=True)(check_shared_cache)
