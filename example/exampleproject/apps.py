from __future__ import annotations

from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    name = "exampleproject"
    verbose_name = "restricted_sessions example project"
