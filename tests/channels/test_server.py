"""restricted_sessions.channels on a real ASGI server (uvicorn) driven by real clients over loopback.

The server runs tests/channels/asgi.py on a SQLite file; the clients log in over HTTP
(http.client) and open WebSockets with the ``websockets`` package, from 127.0.0.1 or, bound to
another loopback address, from 127.0.0.2.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect

from tests.channels.helpers import PATH, Outcome

ROOT = Path(__file__).resolve().parents[2]
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
OTHER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Thief/1.0"
# The server's tickets live this long (instead of 30 s), so that expiry shows within the test.
SERVER_TICKET_MAX_AGE = 4
SETUP = """
import django
django.setup()
from django.core.management import call_command
from django.contrib.auth import get_user_model
call_command("migrate", verbosity=0)
get_user_model().objects.create_user("alice", password="unused")
"""


@dataclass
class Server:
    port: int
    database: Path

    def session_exists(self, key: str) -> bool:
        with closing(sqlite3.connect(self.database)) as connection:
            rows = connection.execute("SELECT COUNT(*) FROM django_session WHERE session_key = ?", (key,))
            return bool(rows.fetchone()[0])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """uvicorn serving tests/channels/asgi.py on a free loopback port, for this module."""
    database = tmp_path_factory.mktemp("asgi") / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.channels.server_settings",
        "RESTRICTED_SESSIONS_SERVER_DB": str(database),
        "PYTHONPATH": str(ROOT),
        "RESTRICTED_SESSIONS_TEST_TICKET_MAX_AGE": str(SERVER_TICKET_MAX_AGE),
    }
    subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True, timeout=120)
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "tests.channels.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-proxy-headers", "--lifespan", "off", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                pytest.fail(f"uvicorn exited with {process.returncode}: {output}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    pytest.fail(f"uvicorn did not listen on port {port}: {error}")
                time.sleep(0.1)
        yield Server(port, database)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


class Client:
    """A real client: HTTP with http.client, WebSockets with ``websockets``, from ``ip`` with ``ua``."""

    def __init__(self, server: Server, *, ip: str = "127.0.0.1", ua: str = UA) -> None:
        self.server = server
        self.ip = ip
        self.ua = ua

    def post(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10, source_address=(self.ip, 0))
        try:
            body = urlencode(data or {})
            all_headers = {
                "User-Agent": self.ua,
                "Content-Type": "application/x-www-form-urlencoded",
                **(headers or {}),
            }
            connection.request("POST", path, body=body, headers=all_headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def login(self) -> str:
        """Log alice in without cookies (an empty X-SessionID to start): the key the response carried."""
        status, headers, _ = self.post("/sync/login/", {"username": "alice"}, headers={"X-SessionID": ""})
        assert status == 200
        key = headers["X-SessionID"]
        assert key
        return str(key)

    def ticket(self, key: str) -> str:
        status, _, body = self.post("/ws-ticket/", headers={"X-SessionID": key})
        assert status == 200, body
        return str(json.loads(body)["ticket"])

    def websocket(self, *, cookie: str | None = None, ticket: str | None = None) -> Outcome:
        """Open the ``whoami`` WebSocket; a refused handshake reports its HTTP status as ``code``."""
        url = f"ws://127.0.0.1:{self.server.port}{PATH}"
        if ticket is not None:
            url += "?" + urlencode({"ticket": ticket})
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        try:
            with websocket_connect(
                url,
                additional_headers=headers,
                user_agent_header=self.ua,
                proxy=None,
                open_timeout=10,
                source_address=(self.ip, 0),
            ) as websocket:
                return Outcome(True, greeting=json.loads(websocket.recv(timeout=10)))
        except InvalidStatus as error:
            return Outcome(False, code=error.response.status_code)


def test_the_same_client_connects_with_its_cookie(server: Server) -> None:
    client = Client(server)
    key = client.login()

    outcome = client.websocket(cookie=key)

    assert outcome.accepted
    assert outcome.user == "alice"


def test_another_user_agent_is_refused_with_403_and_the_session_is_gone(server: Server) -> None:
    key = Client(server).login()

    outcome = Client(server, ua=OTHER_UA).websocket(cookie=key)

    assert outcome == Outcome(False, code=403)
    assert not server.session_exists(key)
    # A key refused once stays refused, even from the client that owned it.
    assert Client(server).websocket(cookie=key) == Outcome(False, code=403)


def test_another_source_address_is_refused_and_the_session_is_gone(server: Server) -> None:
    key = Client(server).login()
    assert server.session_exists(key)

    outcome = Client(server, ip="127.0.0.2").websocket(cookie=key)

    assert outcome == Outcome(False, code=403)
    assert not server.session_exists(key)


def test_a_cookieless_client_connects_with_a_ticket(server: Server) -> None:
    client = Client(server)
    key = client.login()

    outcome = client.websocket(ticket=client.ticket(key))

    assert outcome.accepted
    assert outcome.user == "alice"


def test_a_ticket_works_once(server: Server) -> None:
    client = Client(server)
    ticket = client.ticket(client.login())
    assert client.websocket(ticket=ticket).accepted

    assert client.websocket(ticket=ticket) == Outcome(False, code=403)


def test_a_ticket_from_another_source_address_is_refused(server: Server) -> None:
    client = Client(server)
    key = client.login()
    ticket = client.ticket(key)

    assert Client(server, ip="127.0.0.2").websocket(ticket=ticket) == Outcome(False, code=403)
    # A stolen ticket is used up, but the session itself was never shown to the thief.
    assert server.session_exists(key)


def test_a_ticket_expires(server: Server) -> None:
    client = Client(server)
    ticket = client.ticket(client.login())

    time.sleep(SERVER_TICKET_MAX_AGE + 1.5)

    assert client.websocket(ticket=ticket) == Outcome(False, code=403)
