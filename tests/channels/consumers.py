"""A WebSocket consumer that tells the client who it is, behind RestrictedAuthMiddlewareStack."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # type: ignore[import-untyped]
from channels.routing import URLRouter  # type: ignore[import-untyped]
from django.urls import path

from restricted_sessions.channels import RestrictedAuthMiddlewareStack


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Accepts every connection and sends the user's name and the session's ``value``."""

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        session = self.scope["session"]
        await self.send_json(
            {
                "user": user.get_username() if user.is_authenticated else None,
                "value": await session.aget("value"),
            }
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"echo": content})


websocket_application = RestrictedAuthMiddlewareStack(URLRouter([path("ws/whoami/", WhoAmIConsumer.as_asgi())]))
