"""Open a WebSocket through Channels' WebsocketCommunicator, as a given client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator  # type: ignore[import-untyped]
from django.conf import settings

from tests.channels.consumers import websocket_application
from tests.conftest import DEFAULT_IP, DEFAULT_UA

PATH = "/ws/whoami/"


@dataclass
class Outcome:
    """What happened to a connection: accepted (and what the consumer said) or refused (and the code)."""

    accepted: bool
    code: int | None = None
    greeting: dict[str, Any] | None = None

    @property
    def user(self) -> str | None:
        assert self.greeting is not None, f"refused with {self.code}"
        return self.greeting["user"]  # type: ignore[no-any-return]


async def aconnect(
    *,
    ip: str | None = DEFAULT_IP,
    ua: str | None = DEFAULT_UA,
    cookie: str | None = None,
    ticket: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    application: Any = websocket_application,
) -> Outcome:
    """Connect to the ``whoami`` consumer; ``cookie`` is a session key sent as the session cookie."""
    all_headers = list(headers or [])
    if ua is not None:
        all_headers.append((b"user-agent", ua.encode("latin1")))
    if cookie is not None:
        all_headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    path = PATH if ticket is None else f"{PATH}?ticket={ticket}"
    communicator = WebsocketCommunicator(application, path, headers=all_headers)
    if ip is None:
        communicator.scope.pop("client", None)
    else:
        communicator.scope["client"] = [ip, 50000]
    accepted, detail = await communicator.connect(timeout=10)
    if not accepted:
        await communicator.wait(timeout=10)
        return Outcome(False, code=detail)
    greeting = await communicator.receive_json_from(timeout=10)
    await communicator.disconnect()
    return Outcome(True, greeting=greeting)


def connect(**kwargs: Any) -> Outcome:
    """``aconnect`` for sync tests (whose HTTP side uses Django's test Client)."""
    return async_to_sync(aconnect)(**kwargs)
