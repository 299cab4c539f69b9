"""The ASGI application that test_server.py serves with uvicorn: Django for HTTP, Channels for WebSockets."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.channels.server_settings")

from django.core.asgi import get_asgi_application

# Set Django up before the consumers' imports reach the models.
http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # type: ignore[import-untyped]  # noqa: E402

from restricted_sessions import tickets  # noqa: E402
from tests.channels.consumers import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": http_application, "websocket": websocket_application})

# test_server.py shortens the tickets' life so that their expiry shows within a test.
if "RESTRICTED_SESSIONS_TEST_TICKET_MAX_AGE" in os.environ:
    tickets.TICKET_MAX_AGE = int(os.environ["RESTRICTED_SESSIONS_TEST_TICKET_MAX_AGE"])
