"""The browser client (static/restricted_sessions/dpop.js) run under Node against a server that checks
every request with verify_proof. Node has WebCrypto and fetch but no IndexedDB, so the stored-key
path runs in the Chromium suite; everything else runs here."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.cache import caches

import restricted_sessions
from restricted_sessions.dpop import nonce_is_valid
from tests.dpop_server import HEADER, Server

MODULE = Path(restricted_sessions.__file__).parent / "static" / "restricted_sessions" / "dpop.js"

SCENARIO = """
import { DPoPClient } from %(module)s;

const base = process.argv[2];
const saved = new Map();
const storage = {
  getItem: (name) => saved.get(name) ?? null,
  setItem: (name, value) => saved.set(name, value),
  removeItem: (name) => saved.delete(name),
};
const client = await DPoPClient.create({ storage });
const steps = [];
async function step(path, init) {
  const response = await client.fetch(base + path, init);
  steps.push({ status: response.status, body: await response.json(), session: client.sessionKey,
               stored: saved.get("restricted_sessions.session_key") ?? null });
}
await step("/login", { method: "POST", body: "user=alice" });
await step("/me?page=2#top");
const reloaded = await DPoPClient.create({ storage, keyPair: client.keyPair });
const again = await reloaded.fetch(base + "/me");
steps.push({ status: again.status, body: await again.json(), session: reloaded.sessionKey });
await step("/logout", { method: "POST" });
await step("/me");
let exported = "refused";
try { await crypto.subtle.exportKey("jwk", client.keyPair.privateKey); exported = "exported"; } catch {}
console.log(JSON.stringify({ steps, extractable: client.keyPair.privateKey.extractable, exported }));
"""


class Handler(BaseHTTPRequestHandler):
    """Hands each request to the in-memory ``Server`` as an httpx request."""

    server_logic: Server

    def handle_one(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = httpx.Request(
            self.command,
            f"http://{self.headers['Host']}{self.path}",
            headers=list(self.headers.items()),
            content=self.rfile.read(length),
        )
        response = self.server_logic(request)
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    do_GET = do_POST = handle_one

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[Server, str]]:
    caches["default"].clear()
    logic = Server(nonce_required=True)
    handler = type("BoundHandler", (Handler,), {"server_logic": logic})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield logic, f"http://127.0.0.1:{http.server_address[1]}"
    http.shutdown()
    http.server_close()
    caches["default"].clear()


def run_node(script: str, *args: str, tmp_path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to test dpop.js: apt-get install nodejs"
    path = tmp_path / "scenario.mjs"
    path.write_text(script)
    done = subprocess.run([node, str(path), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_browser_client_follows_the_protocol(server: tuple[Server, str], tmp_path: Path) -> None:
    logic, base = server
    result = run_node(SCENARIO % {"module": json.dumps(MODULE.as_uri())}, base, tmp_path=tmp_path)
    login, me, reloaded, logout, anonymous = result["steps"]
    # The first request asked for a nonce and was retried once, body included.
    assert login["status"] == 200
    assert login["body"] == {"user": "alice", "body": "user=alice"}
    assert len(login["session"]) == 32
    assert login["stored"] == login["session"]
    assert me["status"] == 200
    assert me["body"]["user"] == "alice"
    assert me["session"] == login["session"]
    assert reloaded["body"]["user"] == "alice"
    assert reloaded["session"] == login["session"]
    assert logout["status"] == 200
    assert logout["session"] is None
    assert logout["stored"] is None
    assert anonymous["body"]["user"] is None
    assert logic.sessions == {}
    assert len(logic.requests) == 7  # two nonce retries: the first request, the reloaded client's first
    assert logic.requests[0][HEADER] == ""
    assert nonce_is_valid(logic.claims(1)["nonce"], 300)
    assert logic.claims(2)["htu"] == f"{base}/me"
    assert result["extractable"] is False
    assert result["exported"] == "refused"
