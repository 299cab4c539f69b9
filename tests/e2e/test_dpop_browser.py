"""The browser client, restricted_sessions/static/restricted_sessions/dpop.js, in Debian's headless Chromium.

The example project runs on uvicorn with ``RESTRICTEDSESSIONS_DPOP="optional"``. The page and the
shipped module are served on the app's own origin by Playwright's router (the example project has
no static files app); every other request reaches the real server. The page logs in with
``DPoPClient``, browses, and its key cannot be exported; the session key alone, replayed from
Python, is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.clients import DEMO_PASSWORD, DEMO_USER, HEADER, TIMEOUT
from tests.e2e.conftest import running
from tests.e2e.servers import REPO, AppServer, prepare_example
from tests.e2e.test_browser import UA, browser  # noqa: F401 - the session's Chromium

SCRIPT = REPO / "restricted_sessions" / "static" / "restricted_sessions" / "dpop.js"
PAGE_PATH = "/dpop-test/page.html"
SCRIPT_PATH = "/static/restricted_sessions/dpop.js"
PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>dpop.js</title></head><body>
<script type="module">
import {{ DPoPClient }} from "{SCRIPT_PATH}";
window.DPoPClient = DPoPClient;
document.body.dataset.ready = "yes";
</script>
</body></html>
"""

# Runs in the page: one client, the whole header protocol through dpop.js's fetch.
LOG_IN = """async ([username, password]) => {
  const client = await DPoPClient.create();
  const result = {};
  const summary = async (response) => ({status: response.status, key: response.headers.get("X-SessionID"),
                                        data: await response.json().catch(() => null)});
  result.started = await summary(await client.fetch("/api/login/", {credentials: "omit"}));
  result.login = await summary(await client.fetch("/api/login/", {
    method: "POST", credentials: "omit", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username, password}),
  }));
  result.me = await summary(await client.fetch("/api/me/", {credentials: "omit"}));
  result.sessionKey = client.sessionKey;
  result.jwk = client.jwk;
  result.extractable = client.keyPair.privateKey.extractable;
  result.exportErrors = [];
  for (const format of ["jwk", "pkcs8"]) {
    try {
      await crypto.subtle.exportKey(format, client.keyPair.privateKey);
      result.exportErrors.push(null);
    } catch (error) {
      result.exportErrors.push(error.name);
    }
  }
  return result;
}"""

# After a reload: the key pair from IndexedDB, the session key from sessionStorage.
AGAIN = """async () => {
  const client = await DPoPClient.create();
  const response = await client.fetch("/api/me/", {credentials: "omit"});
  const data = await response.json().catch(() => ({}));
  return {status: response.status, user: data.user ?? null, jwk: client.jwk,
          sessionKey: client.sessionKey};
}"""


@pytest.fixture(scope="module")
def server(workdir: Callable[[str], Path]) -> Iterator[AppServer]:
    """uvicorn, one worker, SQLite sessions: the browser client's server."""
    root = workdir("dpop-browser")
    config = {"DATABASE_URL": f"sqlite:///{root / 'example.sqlite3'}", "RESTRICTEDSESSIONS_DPOP": "optional"}
    app = AppServer("uvicorn", config, root, workers=1, ipv6=False)

    def start() -> AppServer:
        prepare_example(config, DEMO_PASSWORD)
        return app.start()

    with running(start, app.stop) as started:
        yield started


@pytest.fixture
def page(browser: Any, server: AppServer) -> Iterator[Any]:  # noqa: F811 - the imported fixture
    context = browser.new_context(user_agent=UA)
    origin = server.base_url()
    context.route(f"{origin}{PAGE_PATH}", lambda route: route.fulfill(body=PAGE, content_type="text/html"))
    context.route(
        f"{origin}{SCRIPT_PATH}",
        lambda route: route.fulfill(body=SCRIPT.read_text(), content_type="text/javascript"),
    )
    opened = context.new_page()
    opened.goto(f"{origin}{PAGE_PATH}")
    opened.wait_for_selector("body[data-ready=yes]", state="attached")
    yield opened
    context.close()


def test_dpop_js_logs_in_browses_and_keeps_its_key_unexportable(page: Any, server: AppServer) -> None:
    result = page.evaluate(LOG_IN, [DEMO_USER, DEMO_PASSWORD])
    assert result["started"]["status"] == 200
    assert result["started"]["key"]
    assert result["login"]["status"] == 200
    assert result["login"]["key"] not in (None, "", result["started"]["key"])
    assert (result["me"]["status"], result["me"]["data"]["user"]) == (200, DEMO_USER)
    assert result["me"]["key"] is None  # steady state: no new key
    assert result["sessionKey"] == result["login"]["key"]
    assert set(result["jwk"]) == {"kty", "crv", "x", "y"}  # the public half only
    assert result["extractable"] is False
    assert result["exportErrors"] == ["InvalidAccessError", "InvalidAccessError"]

    page.reload()
    page.wait_for_selector("body[data-ready=yes]", state="attached")
    again = page.evaluate(AGAIN)
    assert (again["status"], again["user"]) == (200, DEMO_USER)
    assert again["jwk"] == result["jwk"]
    assert again["sessionKey"] == result["sessionKey"]


def test_the_session_key_replayed_from_python_without_the_key_is_refused(page: Any, server: AppServer) -> None:
    key = page.evaluate(LOG_IN, [DEMO_USER, DEMO_PASSWORD])["sessionKey"]
    with httpx.Client(base_url=server.base_url(), headers={"User-Agent": UA}, timeout=TIMEOUT) as thief:
        stolen = thief.get("/api/me/", headers={HEADER: key})
    assert stolen.status_code == 401
    assert 'error="invalid_dpop_proof"' in stolen.headers["WWW-Authenticate"]
    assert stolen.headers[HEADER] == ""
    # The replay ended the session: the page's next request is refused and drops the key.
    after = page.evaluate(AGAIN)
    assert (after["status"], after["user"], after["sessionKey"]) == (400, None, None)
