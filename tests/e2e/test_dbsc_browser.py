"""DBSC in a real browser: Debian's Chromium against the DBSC endpoints over HTTPS on loopback.

The site (tests/e2e/dbsc_site, with the library's SessionMiddleware and RestrictedSessionsMiddleware)
runs on uvicorn with TLS and a self-signed certificate for localhost, which Chromium accepts through
``--ignore-certificate-errors-spki-list`` (DBSC stays off over plain HTTP and with
``--ignore-certificate-errors``). The switches enable DBSC with software keys, as the probe in
shared/probes/dbsc-chromium found; they and the certificate come from example/dbsc_chromium.py,
shared with the demo's step g. Bound cookies live 4 seconds so that refreshes happen within the test.
The site logs each request; DevTools reports the browser's DBSC events.
"""

from __future__ import annotations

import json
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from example.dbsc_chromium import CHROMIUM, chromium_args
from tests.e2e.dbsc_site.launch import migrate, self_signed, site_env
from tests.e2e.servers import REPO, Process, ServerError, free_port, program, wait_until

COOKIE_AGE = 4
BOUND_COOKIE = "__Host-rs-dbsc"


@dataclass
class Site:
    origin: str
    cert: Path
    spki: str
    log: Path

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def site(workdir: Callable[[str], Path]) -> Iterator[Site]:
    """tests/e2e/dbsc_site on uvicorn with TLS: the library's middleware, SQLite, sessions in files."""
    root = workdir("dbsc-site")
    cert, key, spki = self_signed(root)
    log = root / "requests.log"
    log.touch()
    port = free_port()
    env = site_env(root, log, "uvicorn", COOKIE_AGE)
    found = Site(f"https://localhost:{port}", cert, spki, log)
    server: Process | None = None
    try:
        try:
            migrate(env)
            server = Process(
                "uvicorn (TLS)",
                [sys.executable, "-m", "uvicorn", "tests.e2e.dbsc_site.asgi:application", "--host", "127.0.0.1",
                 "--port", str(port), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--lifespan", "off",
                 "--no-access-log", "--timeout-graceful-shutdown", "2"],
                root / "uvicorn.log", env=env, cwd=REPO,
            )
            wait_until(
                lambda: httpx.get(f"{found.origin}/healthz/", verify=found.tls(), timeout=2).status_code == 200,
                "the DBSC site on uvicorn with TLS", server,
            )
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield found
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def chromium(site: Site, playwright_driver: Any) -> Iterator[Any]:
    try:
        executable = program("chromium", CHROMIUM)
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    browser = playwright_driver.chromium.launch(executable_path=executable, args=chromium_args(site.spki))
    try:
        yield browser
    finally:
        browser.close()


def wait_for(page: Any, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``condition()``; Playwright's wait, so that DevTools events keep arriving meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        page.wait_for_timeout(100)


def refreshes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["path"] == "/dbsc/refresh/" and e["proof"]]


def refreshed_since(site: Site, count: int) -> bool:
    return len(refreshes(site.entries())) > count


def test_chromium_registers_refreshes_and_stops_after_logout_while_a_copied_cookie_is_refused(
    site: Site, chromium: Any
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    devtools = context.new_cdp_session(page)
    events: list[dict[str, Any]] = []
    devtools.on("Network.deviceBoundSessionEventOccurred", lambda event: events.append(event))
    devtools.send("Network.enable")
    devtools.send("Network.enableDeviceBoundSessions", {"enable": True})
    try:
        # Log in: the response invites registration, the browser registers its key at once.
        assert page.goto(f"{site.origin}/login/").status == 200
        wait_for(page, lambda: any(e["path"] == "/dbsc/registration/" for e in site.entries()), "the registration")
        (login,) = [e for e in site.entries() if e["path"] == "/login/"]
        assert login["registration"]  # the engine's invitation, on the login response
        (registration,) = [e for e in site.entries() if e["path"] == "/dbsc/registration/"]
        assert (registration["method"], registration["status"], registration["proof"]) == ("POST", 200, True)
        session_id = json.loads(registration["body"])["session_identifier"]
        wait_for(page, lambda: any("creationEventDetails" in e for e in events), "the DevTools creation event")
        (created,) = [e for e in events if "creationEventDetails" in e]
        assert created["succeeded"]
        assert created["sessionId"] == session_id
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies[BOUND_COOKIE]["secure"]
        assert cookies[BOUND_COOKIE]["httpOnly"]
        session_cookie = cookies["sessionid"]

        # The bound cookie expires; the browser refreshes it with a proof and keeps browsing.
        for _ in range(2):
            before = len(refreshes(site.entries()))
            page.wait_for_timeout((COOKIE_AGE + 1) * 1000)
            assert page.goto(f"{site.origin}/page/").status == 200
            assert page.inner_text("#user") == "demo"
            wait_for(page, partial(refreshed_since, site, before), "a refresh")
        assert all(e["status"] == 200 and e["session_id"] == session_id for e in refreshes(site.entries()))
        assert not [e for e in site.entries() if e["status"] == 403 and not e["path"].startswith("/dbsc/")]
        assert all(e["bound_cookie"] for e in site.entries() if e["path"] == "/page/")

        # The long-lived session cookie alone, in httpx or another browser profile: refused.
        stolen = httpx.get(f"{site.origin}/page/", cookies={"sessionid": session_cookie["value"]}, verify=site.tls())
        assert (stolen.status_code, stolen.text) == (403, "refused: dbsc")
        thief = chromium.new_context()
        thief.add_cookies([session_cookie])
        assert thief.new_page().goto(f"{site.origin}/page/").status == 403
        thief.close()
        assert page.goto(f"{site.origin}/page/").status == 200  # the owner is not logged out by it

        # Log out: the one refresh that follows is told to stop, and no other comes.
        assert page.goto(f"{site.origin}/logout/").status == 200
        assert page.goto(f"{site.origin}/page/").status == 200
        wait_for(page, lambda: any("terminationEventDetails" in e for e in events), "the DevTools termination event")
        after_logout = len(refreshes(site.entries()))
        page.wait_for_timeout((COOKIE_AGE + 1) * 1000)
        assert page.goto(f"{site.origin}/page/").status == 200
        assert page.inner_text("#user") == "anonymous"
        page.wait_for_timeout(1000)
        ended = refreshes(site.entries())[-1]
        assert json.loads(ended["body"]) == {"session_identifier": session_id, "continue": False}
        assert len(refreshes(site.entries())) == after_logout
        (terminated,) = [e for e in events if "terminationEventDetails" in e]
        assert terminated["terminationEventDetails"]["deletionReason"] == "ServerRequested"
    finally:
        context.close()
