"""Requests without a server: Django's WSGIHandler called on a prepared environ, and its
ASGIHandler driven by a minimal receive/send loop.

Inputs are built before the clock starts; a timed request covers the handler call, reading the
body and closing the response (which sends ``request_finished``, as a server would).

``CLOCKS``: "wall" (``perf_counter``) is what a client waits; "cpu" (the process's CPU time, all
threads) is what the request costs the machine, and is much less disturbed by other processes
competing for the CPUs.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler

from bench.stacks import Client

CLOCKS: dict[str, Callable[[], int]] = {"wall": time.perf_counter_ns, "cpu": time.process_time_ns}
clock_ns = CLOCKS["wall"]


def use_clock(name: str) -> None:
    global clock_ns
    clock_ns = CLOCKS[name]


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def session_key(self) -> str | None:
        """The session key handed out: a session cookie or a non-empty X-SessionID header."""
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                morsel = SimpleCookie(value).get("sessionid")
                if morsel is not None and morsel.value:
                    return morsel.value
        return self.header("X-SessionID") or None

    def varies_on_cookie(self) -> bool:
        vary = self.header("Vary") or ""
        return "cookie" in (part.strip().lower() for part in vary.split(","))


def environ(path: str, client: Client) -> dict[str, Any]:
    """A WSGI environ as a server would build it for ``client``."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/" + path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": client.remote_addr,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in client.headers():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def scope(path: str, client: Client) -> dict[str, Any]:
    """An ASGI HTTP scope as a server would build it for ``client``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/a" + path,
        "raw_path": ("/a" + path).encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.encode(), value.encode("latin-1")) for name, value in client.headers()],
        "client": (client.remote_addr, 50000),
        "server": ("testserver", 80),
    }


class WsgiDriver:
    def __init__(self, handler: WSGIHandler) -> None:
        self.handler = handler

    def prepare(self, path: str, client: Client, count: int) -> list[dict[str, Any]]:
        return [environ(path, client) for _ in range(count)]

    def call(self, env: dict[str, Any]) -> Response:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started[:] = [status, headers]
            return _write

        result = self.handler(env, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
        return Response(int(started[0].split(" ", 1)[0]), started[1], body)

    def timed(self, inputs: list[dict[str, Any]]) -> list[int]:
        """Nanoseconds per request."""
        clock = clock_ns
        handler = self.handler
        times = []
        for env in inputs:
            start = clock()
            result = handler(env, _ignore)
            b"".join(result)
            result.close()
            times.append(clock() - start)
        return times


def _ignore(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
    return _write


def _write(data: bytes) -> None:
    """WSGI's legacy write(): Django never calls it."""


async def _asgi_call(app: ASGIHandler, request_scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Django listens for a disconnect while the view runs, and cancels the wait when done.
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(request_scope, receive, send)
    return sent


class AsgiDriver:
    def __init__(self, handler: ASGIHandler, loop: asyncio.AbstractEventLoop) -> None:
        self.handler = handler
        self.loop = loop

    def prepare(self, path: str, client: Client, count: int) -> list[dict[str, Any]]:
        return [scope(path, client) for _ in range(count)]

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coroutine)

    def call(self, request_scope: dict[str, Any]) -> Response:
        sent = self._run(_asgi_call(self.handler, request_scope))
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        return Response(start["status"], headers, body)

    def timed(self, inputs: list[dict[str, Any]]) -> list[int]:
        async def run() -> list[int]:
            clock = clock_ns
            times = []
            for request_scope in inputs:
                start = clock()
                await _asgi_call(self.handler, request_scope)
                times.append(clock() - start)
            return times

        return self._run(run())  # type: ignore[no-any-return]


Driver = WsgiDriver | AsgiDriver
Timer = Callable[[list[Any]], list[int]]
