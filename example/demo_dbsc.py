"""Step (g) of the demo: DBSC (device-bound sessions) in a real browser, Debian's headless Chromium.

Usage: ``python demo_dbsc.py https://localhost:PORT --spki SPKI --cert CERT --cookie-age SECONDS
--server-log PATH`` (``demo.sh`` starts the HTTPS server and runs this when ``DEMO_DBSC`` allows).
The server is the example project on gunicorn with TLS, ``SESSION_COOKIE_SECURE`` and
``RESTRICTEDSESSIONS_DBSC_COOKIE_AGE=SECONDS``; its access log lines (format ``ACCESS_FORMAT``)
show the DBSC requests and the browser's signed proofs. Playwright drives /usr/bin/chromium with
the switches of dbsc_chromium.py; DevTools reports what the browser did.

(g) Chromium logs in through the form; the login response invites it to register; it registers a
    key (the server verifies its JWT, the session holds the public key); the bound cookie expires
    and the browser refreshes it with a signed proof, and keeps browsing; the long-lived session
    cookie copied into httpx and into a second browser profile (same address, same User-Agent) is
    refused, and the owner's session goes on; logging out ends the device-bound session, and the
    browser stops refreshing.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from dbsc_chromium import CHROMIUM, chromium_args
from demo_client import COOKIE, Report, StepAborted, add_credentials, field, short
from joserfc.jwk import JWKRegistry
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response, sync_playwright

BOUND_COOKIE = "__Host-rs-dbsc"
# gunicorn's --access-logformat for the HTTPS server: the DBSC headers of each request. The proofs
# are signatures over one-time challenges, useless once used; a production log need not keep them.
ACCESS_FORMAT = 'access "%(r)s" %(s)s id=%({sec-secure-session-id}i)s proof=%({secure-session-response}i)s'
ACCESS_LINE = re.compile(r'access "(\S+) (\S+) [^"]*" (\d+) id=(\S+) proof=(\S+)')


@dataclass(frozen=True)
class Access:
    """One request in the server's access log."""

    method: str
    path: str
    status: int
    session_id: str | None
    proof: str | None


def accesses(log: Path) -> list[Access]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = ACCESS_LINE.search(line)
        if match:
            method, path, status, session_id, proof = match.groups()
            found.append(
                Access(
                    method,
                    path,
                    int(status),
                    None if session_id == "-" else session_id.strip('"'),
                    None if proof == "-" else proof,
                )
            )
    return found


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWT, unverified (the server verified it); empty when malformed."""
    try:
        header, claims = (
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in token.split(".")[:2]
        )
    except ValueError:
        return {}, {}
    return (header, claims) if isinstance(header, dict) and isinstance(claims, dict) else ({}, {})


def param(header: str, name: str) -> str | None:
    match = re.search(rf';{name}="([^"]*)"', header)
    return match.group(1) if match else None


class DbscDemo(Report):
    def __init__(
        self, origin: str, username: str, password: str, spki: str, cert: Path, cookie_age: int, log: Path
    ) -> None:
        super().__init__()
        self.origin = origin
        self.username = username
        self.password = password
        self.spki = spki
        self.tls = ssl.create_default_context(cafile=str(cert))
        self.cookie_age = cookie_age
        self.log = log
        self.events: list[dict[str, Any]] = []

    # -- helpers ---------------------------------------------------------------------------

    def dbsc_requests(self, path: str) -> list[Access]:
        return [a for a in accesses(self.log) if a.path == f"/dbsc/{path}/"]

    def refreshed_since(self, count: int) -> bool:
        return len(self.dbsc_requests("refresh")) > count

    def wait_for(self, page: Page, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> bool:
        """Wait until ``condition()``; Playwright's wait, so that DevTools events keep arriving meanwhile."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.check(False, f"timed out after {timeout:.0f} s waiting for {what}")
                return False
            page.wait_for_timeout(100)
        return True

    def visit(self, page: Page, path: str, who: str = "Chromium") -> int:
        """Navigate to ``path`` and print the final status (0 when there was no response)."""
        seen: list[Response] = []

        def record(response: Response) -> None:
            if response.request.is_navigation_request() and response.frame == page.main_frame:
                seen.append(response)

        page.on("response", record)
        try:
            response = page.goto(f"{self.origin}{path}")
            status = response.status if response else 0
        except PlaywrightError:  # Chromium fails the navigation to a 4xx with an empty body (a refusal)
            status = seen[-1].status if seen else 0
        finally:
            page.remove_listener("response", record)
        landed = page.url.removeprefix(self.origin)
        moved = f"  (at {landed})" if landed.startswith("/") and landed != path else ""
        print(f"   GET  {path:<12} {who:<44} -> {status}{moved}")
        return status

    def show_proof(self, access: Access, expected_jti: str | None = None) -> dict[str, Any]:
        """Print the browser's signed proof as the server received it; return its JWT header."""
        header, claims = jwt_parts(access.proof or "")
        jwk = header.get("jwk")
        key = f", jwk {jwk.get('kty')} {jwk.get('crv')}" if isinstance(jwk, dict) else ", no jwk (the registered key)"
        jti = claims.get("jti")
        self.note(f"JWT header: alg {header.get('alg')}, typ {header.get('typ')}{key}")
        self.note(f"JWT claims: {sorted(claims)}, jti {short(jti) if isinstance(jti, str) else jti!r}")
        if expected_jti is not None:
            self.check(jti == expected_jti, "the proof signs the challenge the server sent (jti)")
        return header

    # -- the step --------------------------------------------------------------------------

    def run(self) -> None:
        self.step("(g) DBSC in a real browser: Chromium binds the session to a key it cannot export")
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=chromium_args(self.spki))
                self.note(f"Chromium {browser.version}, headless, DBSC switches of dbsc_chromium.py")
                try:
                    self.browse(browser)
                finally:
                    browser.close()
        except StepAborted as exc:
            self.check(False, f"step g cannot go on: {exc}")
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            self.check(False, f"step g broke: {type(exc).__name__}: {exc}")
        except Exception as exc:  # Playwright's errors (a browser that died, a timeout): the step failed
            self.check(False, f"step g broke: {type(exc).__name__}: {exc}")
        self.end_step("g")

    def browse(self, browser: Any) -> None:
        context = browser.new_context()
        page = context.new_page()
        devtools = context.new_cdp_session(page)
        devtools.on("Network.deviceBoundSessionEventOccurred", lambda event: self.events.append(event))
        devtools.send("Network.enable")
        devtools.send("Network.enableDeviceBoundSessions", {"enable": True})
        try:
            session_id, session_cookie, user_agent = self.log_in_and_register(page, context)
            self.refresh(page, session_id)
            self.thief(browser, page, session_cookie, user_agent)
            self.log_out(page, session_id)
        finally:
            context.close()

    def log_in_and_register(self, page: Page, context: Any) -> tuple[str, dict[str, Any], str]:
        print("   -- log in: the login response invites the browser to register a key")
        self.check(self.visit(page, "/login/") == 200, "the login form over HTTPS")
        page.fill("input[name=username]", self.username)
        page.fill("input[name=password]", self.password)
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login/")) as posted:
            page.click("button[type=submit]")
        login = posted.value
        invitation = login.all_headers().get("secure-session-registration", "")
        user_agent = login.request.all_headers().get("user-agent", "")
        print(f"   POST /login/      {'Chromium (form)':<44} -> {login.status}")
        challenge = param(invitation, "challenge")
        self.note(f"Secure-Session-Registration: {invitation.replace(challenge or '-', short(challenge))}")
        self.check(login.status == 302 and bool(challenge), f"logged in, and invited to register: {login.status}")
        page.wait_for_url(f"{self.origin}/session/")

        print("   -- registration: the browser's JWT, verified by the server; the session holds the key")
        if not self.wait_for(page, lambda: bool(self.dbsc_requests("registration")), "the registration"):
            raise StepAborted("Chromium did not register (is this Chromium DBSC-capable?)")
        (registration,) = self.dbsc_requests("registration")
        print(
            f"   {registration.method:<4} {registration.path:<12} {'Chromium (in the background)':<44} "
            f"-> {registration.status}"
        )
        header = self.show_proof(registration, expected_jti=challenge)
        self.check(
            registration.status == 200, f"the server verified the proof and registered the key: {registration.status}"
        )
        self.wait_for(page, lambda: any("creationEventDetails" in e for e in self.events), "DevTools' creation event")
        created = next((e for e in self.events if "creationEventDetails" in e), {})
        session_id = str(created.get("sessionId"))
        self.check(bool(created.get("succeeded")), f"DevTools: device-bound session {session_id} created")
        cookies = {c["name"]: c for c in context.cookies()}
        bound = cookies.get(BOUND_COOKIE, {})
        lifetime = bound.get("expires", 0) - time.time()
        self.check(
            bool(bound) and bound.get("secure") and bound.get("httpOnly") and 0 < lifetime <= self.cookie_age + 1,
            f"the browser holds the bound cookie {BOUND_COOKIE} (Secure, HttpOnly, {lifetime:.0f} s left)",
        )
        if COOKIE not in cookies:
            raise StepAborted(f"no {COOKIE} cookie after the login")
        self.keys.add(cookies[COOKIE]["value"])

        self.check(self.visit(page, "/session/") == 200, "browsing the session page")
        html = page.content()
        shown_id, shown_key = field(html, "dbsc-id"), field(html, "dbsc-key") or ""
        self.note(f"the session page: device-bound session {shown_id}, key {shown_key}")
        jwk = header.get("jwk")
        thumbprint = JWKRegistry.import_key(jwk).thumbprint() if isinstance(jwk, dict) else "(none)"
        self.check(
            shown_id == session_id and shown_key.endswith(f"thumbprint {thumbprint}"),
            "the Django session holds the key of the browser's JWT (same RFC 7638 thumbprint)",
        )
        return session_id, cookies[COOKIE], user_agent

    def refresh(self, page: Page, session_id: str) -> None:
        print(f"   -- the bound cookie lives {self.cookie_age} s: the browser refreshes it and keeps browsing")
        for _ in range(2):
            before = len(self.dbsc_requests("refresh"))
            page.wait_for_timeout((self.cookie_age + 1) * 1000)
            status = self.visit(page, "/session/", f"Chromium, {self.cookie_age + 1} s later")
            self.check(
                status == 200 and field(page.content(), "user") == self.username,
                f"still browsing as {self.username!r}: {status}",
            )
            self.wait_for(page, partial(self.refreshed_since, before), "a refresh")
            for access in self.dbsc_requests("refresh")[before:]:
                kind = "proof" if access.proof else "asks for a challenge"
                print(
                    f"   {access.method:<4} {access.path:<12} {'Chromium (in the background), ' + kind:<44} "
                    f"-> {access.status}"
                )
        refreshes = [a for a in self.dbsc_requests("refresh") if a.proof]
        if refreshes:
            self.show_proof(refreshes[-1])
        self.check(
            bool(refreshes) and all(a.status == 200 and a.session_id == session_id for a in refreshes),
            f"every signed refresh of session {session_id} got a new bound cookie: {len(refreshes)} refreshes",
        )
        details = [e["refreshEventDetails"] for e in self.events if "refreshEventDetails" in e]
        results = sorted({f"{d.get('refreshResult')}/{d.get('fetchResult')}" for d in details})
        self.note(f"DevTools refresh events: {len(details)}, results (refresh/fetch): {', '.join(results)}")
        refused = [a for a in accesses(self.log) if a.status == 400]
        self.check(not refused, f"the browser was never refused: {len(refused)} refusals")

    def thief(self, browser: Any, page: Page, session_cookie: dict[str, Any], user_agent: str) -> None:
        print("   -- the long-lived session cookie is stolen: same address, same User-Agent, no bound cookie")
        headers = {"User-Agent": user_agent, "Cookie": f"{COOKIE}={session_cookie['value']}"}
        with httpx.Client(base_url=self.origin, headers=headers, verify=self.tls, timeout=15) as thief:
            response = thief.get("/session/")
        print(f"   GET  /session/    {'httpx, copied ' + COOKIE + ', browser UA':<44} -> {response.status_code}")
        self.check(
            response.status_code == 400 and not response.content,
            f"refused: {response.status_code} (expected 400, empty body)",
        )
        profile = browser.new_context(user_agent=user_agent)
        try:
            profile.add_cookies([session_cookie])
            status = self.visit(profile.new_page(), "/session/", "a second Chromium profile, copied cookie")
        finally:
            profile.close()
        self.check(status == 400, f"refused in another browser profile: {status} (expected 400)")
        status = self.visit(page, "/session/", "Chromium, the owner")
        self.check(
            status == 200 and field(page.content(), "user") == self.username,
            f"the owner's session goes on (a refusal for DBSC does not log out): {status}",
        )

    def log_out(self, page: Page, session_id: str) -> None:
        print("   -- log out: the server ends the device-bound session, the browser stops refreshing")
        before = len(self.dbsc_requests("refresh"))
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/logout/")) as posted:
            page.click("nav button[type=submit]")
        print(f"   POST /logout/     {'Chromium (form)':<44} -> {posted.value.status}")
        self.visit(page, "/session/", "Chromium, logged out")
        self.wait_for(
            page, lambda: any("terminationEventDetails" in e for e in self.events), "DevTools' termination event"
        )
        for access in self.dbsc_requests("refresh")[before:]:
            print(
                f"   {access.method:<4} {access.path:<12} {'Chromium (in the background), after the logout':<44} "
                f"-> {access.status}"
            )
        ended = next((e for e in self.events if "terminationEventDetails" in e), {})
        reason = ended.get("terminationEventDetails", {}).get("deletionReason")
        # Chromium ends its session when a refresh is told to end (200, "continue": false) or fails (4xx).
        # Under gunicorn the refresh after the logout has been answered 400 in some runs (not explained
        # yet; uvicorn in tests/e2e answers 200): either way the browser must stop refreshing.
        why = {"ServerRequested": "the refresh was told to end", "RefreshFatalError": "the refresh was refused"}
        self.check(
            ended.get("sessionId") == session_id and reason in why,
            f"DevTools: device-bound session {ended.get('sessionId')} ended, reason {reason!r} ({why.get(reason)})",
        )
        after = len(self.dbsc_requests("refresh"))
        page.wait_for_timeout((self.cookie_age + 1) * 1000)
        status = self.visit(page, "/", f"Chromium, {self.cookie_age + 1} s later")
        page.wait_for_timeout(1000)
        self.check(
            status == 200 and len(self.dbsc_requests("refresh")) == after,
            f"no refresh after the end: {len(self.dbsc_requests('refresh')) - after} refreshes",
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("origin", help="e.g. https://localhost:8443")
    add_credentials(parser)
    parser.add_argument("--spki", required=True, help="base64 SHA-256 of the server certificate's SPKI")
    parser.add_argument("--cert", type=Path, required=True, help="the server's certificate (PEM)")
    parser.add_argument("--cookie-age", type=int, required=True, help="RESTRICTEDSESSIONS_DBSC_COOKIE_AGE")
    parser.add_argument("--server-log", type=Path, required=True, help="gunicorn's log, access lines included")
    args = parser.parse_args()

    demo = DbscDemo(
        args.origin.rstrip("/"), args.username, args.password, args.spki, args.cert, args.cookie_age, args.server_log
    )
    print(f"Driving {demo.origin} with Chromium ({CHROMIUM})")
    demo.run()
    demo.check_server_log(args.server_log, min_warnings=2)
    return demo.summary("STEP G")


if __name__ == "__main__":
    sys.exit(main())
