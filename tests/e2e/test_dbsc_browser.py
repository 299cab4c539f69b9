"""DBSC in a real browser: Debian's Chromium against the DBSC endpoints over HTTPS on loopback.

The site (tests/e2e/dbsc_site, with the library's SessionMiddleware and RestrictedSessionsMiddleware)
runs on uvicorn with TLS and a self-signed certificate for localhost,
which Chromium accepts through ``--ignore-certificate-errors-spki-list`` (DBSC stays off over plain
HTTP and with ``--ignore-certificate-errors``). The switches enable DBSC with software keys, as the
probe in shared/probes/dbsc-chromium found. Bound cookies live 4 seconds so that refreshes happen
within the test. The site logs each request; DevTools reports the browser's DBSC events.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
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
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.servers import REPO, Process, ServerError, free_port, program, run, wait_until

try:
    from playwright.sync_api import sync_playwright
except ImportError as exc:  # fail loudly, never skip
    raise ImportError(f"the browser tests need Playwright (the tox env e2e installs it): {exc}") from exc

COOKIE_AGE = 4
BOUND_COOKIE = "__Host-rs-dbsc"
FEATURES = (
    "DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false,"
    "EnableBoundSessionCredentialsSoftwareKeysForManualTesting,DeviceBoundSessionsDevTools"
)


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


def self_signed(directory: Path) -> tuple[Path, Path, str]:
    """A certificate for localhost and 127.0.0.1, its key, and the base64 SHA-256 of its SPKI."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def site_env(root: Path, log: Path, name: str, **more: str) -> dict[str, str]:
    """The environment of a server of tests/e2e/dbsc_site."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DBSC_SITE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.e2e.dbsc_site.settings",
        DBSC_SITE_ROOT=str(root),
        DBSC_SITE_LOG=str(log),
        DBSC_SITE_NAME=name,
        DBSC_SITE_COOKIE_AGE=str(COOKIE_AGE),
        PYTHONPATH=str(REPO),
        **more,
    )
    env.pop("PYTHONDEVMODE", None)
    return env


def migrate(env: dict[str, str]) -> None:
    run([sys.executable, "-m", "django", "migrate", "--noinput", "--verbosity", "0"], "migrate the DBSC site",
        env=env, cwd=REPO)


@pytest.fixture(scope="module")
def site(workdir: Callable[[str], Path]) -> Iterator[Site]:
    """tests/e2e/dbsc_site on uvicorn with TLS: the library's middleware, SQLite, sessions in files."""
    root = workdir("dbsc-site")
    cert, key, spki = self_signed(root)
    log = root / "requests.log"
    log.touch()
    port = free_port()
    env = site_env(root, log, "uvicorn")
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
def chromium(site: Site) -> Iterator[Any]:
    try:
        executable = program("chromium", "/usr/bin/chromium")
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", f"--enable-features={FEATURES}",
            f"--ignore-certificate-errors-spki-list={site.spki}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
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
