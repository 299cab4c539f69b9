"""The benchmark's site as a settings module for real servers: ``bench.serve:wsgi`` (gunicorn) and
``bench.serve:asgi`` (uvicorn), with ``DJANGO_SETTINGS_MODULE=bench.serve``.

The environment chooses what is served: ``BENCH_STACK`` (a name of ``bench.stacks``),
``BENCH_POSTGRES`` (the database URL; sessions use the db engine) and ``BENCH_HANDLER`` ("wsgi":
persistent database connections, as a WSGI site runs; "asgi": a connection per request, since
Django's ASGI handler runs sync code in threads that do not outlive the request).
"""

from __future__ import annotations

import os
from typing import Any

from bench import site
from bench.stacks import STACKS_BY_NAME

_stack = STACKS_BY_NAME[os.environ.get("BENCH_STACK", "django")]
_settings: dict[str, Any] = site.settings(None)
_settings["DATABASES"] = {
    "default": site.database(os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1/bench"))
}
if os.environ.get("BENCH_HANDLER") == "asgi":
    _settings["DATABASES"]["default"]["CONN_MAX_AGE"] = 0
_settings["ALLOWED_HOSTS"] = ["127.0.0.1", "testserver"]
_settings["MIDDLEWARE"] = list(_stack.middleware)
_settings.update(_stack.settings)
globals().update(_settings)


def __getattr__(name: str) -> Any:
    # The applications are built on first use, once Django reads this module as its settings.
    if name == "wsgi":
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    if name == "asgi":
        from django.core.asgi import get_asgi_application

        return get_asgi_application()
    raise AttributeError(name)
