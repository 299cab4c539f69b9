"""Drive the running example project over loopback with httpx; show what restricted_sessions does.

Usage: ``python demo_client.py http://127.0.0.1:8000 --password PASSWORD [--server-log PATH]``
(``demo.sh`` starts the server and runs this). Each check prints PASS or FAIL with the status
codes; the exit status is 1 when any check fails.

Steps:
(a) a browser logs in through the login form and browses;
(b) its session cookie replayed with another User-Agent: 400, and the session is gone;
(c) it logs in again; the cookie replayed from another source address (127.0.0.2): 400, gone;
(d) a cookieless client logs in through the JSON API and browses with the X-SessionID header;
    the key replayed with another User-Agent is refused, and an empty X-SessionID in the
    response tells the client to drop it;
(e) the header client logs out; CSRF is still enforced for cookie sessions on the same API;
(f) a DPoP client's stolen session key is refused without the client's private key.
Step (g), DBSC in a real browser, is demo_dbsc.py (HTTPS and Chromium).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

HEADER = "X-SessionID"
COOKIE = "sessionid"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 DemoBrowser/1.0"
OTHER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AttackerBrowser/6.6"
API_UA = "demo-api-client/1.0 (httpx)"
OTHER_IP = "127.0.0.2"


class StepAborted(Exception):
    """A step cannot go on (for example, the login it builds on failed)."""


def short(key: str | None) -> str:
    """Enough of a session key to see that it changed, not enough to use it."""
    if key is None:
        return "(none)"
    return f"{key[:8]}..." if key else '"" (empty)'


def field(page: str, element_id: str) -> str | None:
    """The text of ``<dd id="element_id">`` on the session page."""
    match = re.search(rf'<dd id="{element_id}">(.*?)</dd>', page, re.S)
    return html.unescape(match.group(1)) if match else None


def set_cookie_key(response: httpx.Response) -> str | None:
    """The session key a response's Set-Cookie gives, if any ("" when it deletes the cookie)."""
    for value in response.headers.get_list("set-cookie"):
        name, _, rest = value.partition("=")
        if name.strip() == COOKIE:
            return rest.split(";", 1)[0].strip('"')
    return None


def store_has(key: str) -> bool | None:
    """Ask the session store itself (the server's settings) whether ``key`` still exists.

    None when this process cannot tell: signed cookies have no store, and the cache engine
    without REDIS_URL lives in each server process's own memory.
    """
    engine = os.environ.get("SESSION_ENGINE", "django.contrib.sessions.backends.db")
    if engine.endswith("signed_cookies") or (engine.endswith(".cache") and not os.environ.get("REDIS_URL")):
        print(f"         (no shared session store to look into with {engine})")
        return None
    try:
        import django
        from django.conf import settings

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
        django.setup()  # cheap when already set up
        from importlib import import_module

        return bool(import_module(settings.SESSION_ENGINE).SessionStore().exists(key))
    except Exception as exc:  # the HTTP checks are the demo; this look is a bonus
        print(f"         (could not open the session store: {exc!r})")
        return None


class Report:
    """Steps and checks as the demo prints them; ``failures`` lists every failed check."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.step_failures = 0
        self.keys: set[str] = set()  # every session key seen: the server must never log one

    def step(self, title: str) -> None:
        self.step_failures = 0
        print(f"\n== {title}")

    def end_step(self, name: str) -> None:
        print(f"   -> step {name}: {'FAIL' if self.step_failures else 'PASS'}")

    def check(self, ok: bool, what: str) -> bool:
        print(f"   {'PASS' if ok else 'FAIL'}  {what}")
        if not ok:
            self.failures.append(what)
            self.step_failures += 1
        return ok

    def note(self, text: str) -> None:
        print(f"         {text}")

    def check_server_log(self, path: Path, min_warnings: int) -> None:
        """The server log has ``min_warnings`` restriction warnings or more, no traceback, no session key."""
        self.step(f"Server log ({path.name}): the restriction's warnings, no errors, no keys")
        lines = path.read_text(errors="replace").splitlines()
        warnings = [line for line in lines if re.search(r"WARNING restricted_sessions\b", line)]
        for line in warnings:
            print(f"   | {line}")
        self.check(
            len(warnings) >= min_warnings,
            f"a warning on the restricted_sessions logger per refusal: {len(warnings)} lines",
        )
        errors = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line]
        if errors:
            print("   | ... the last server error:")
            for line in lines[errors[-1] : errors[-1] + 40]:
                print(f"   | {line}")
        self.check(not errors, f"no server error in the log: {len(errors)} tracebacks")
        text = "\n".join(lines)
        leaked = [key for key in self.keys if key in text]
        self.check(not leaked, f"no session key appears in the server log: {len(leaked)} found")
        self.end_step("log")

    def summary(self, name: str = "DEMO") -> int:
        """Print the outcome; the exit status: 1 when any check failed."""
        print()
        if self.failures:
            print(f"{name} FAILED: {len(self.failures)} check(s) failed:")
            for failure in self.failures:
                print(f"  - {failure}")
            return 1
        print(f"{name} PASSED: every check behaved as expected.")
        return 0


class Demo(Report):
    def __init__(self, base_url: str, username: str, password: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.username = username
        self.credentials = {"username": username, "password": password}
        self.browser = self.client(BROWSER_UA)
        self.cookie_key: str | None = None
        # Signed-cookie sessions live in the client: the server refuses the thief's request, but
        # cannot revoke the copies that still hold the old, validly signed session.
        self.revocable = not os.environ.get("SESSION_ENGINE", "").endswith("signed_cookies")

    # -- output ----------------------------------------------------------------------------

    def check_revoked(self, ok: bool, what: str) -> None:
        """A check that holds only where the server can end a session for every holder of its key."""
        if self.revocable:
            self.check(ok, what)
        else:
            print(f"   INFO  {what} [{'as with a store' if ok else 'signed cookies: not revocable'}]")

    # -- HTTP ------------------------------------------------------------------------------

    def client(self, user_agent: str, *, source: str | None = None, cookie_key: str | None = None) -> httpx.Client:
        """A client with its own cookie jar.

        ``source`` binds its socket to that address; ``cookie_key`` sends a copied cookie.
        """
        headers = {"User-Agent": user_agent}
        if cookie_key is not None:
            headers["Cookie"] = f"{COOKIE}={cookie_key}"
            self.keys.add(cookie_key)
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(base_url=self.base_url, headers=headers, transport=transport, timeout=15)

    def send(self, client: httpx.Client, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        """Send one request and print it with the headers that matter here."""
        response = client.request(method, path, **kwargs)
        extra = []
        if "location" in response.headers:
            extra.append(f"Location: {response.headers['location']}")
        cookie_key = set_cookie_key(response)
        if cookie_key is not None:
            extra.append(f"Set-Cookie {COOKIE}={short(cookie_key)}")
        if HEADER in response.headers:
            extra.append(f"{HEADER}: {short(response.headers[HEADER])}")
        if response.status_code >= 500:
            extra.append("(server error: see the server log)")
        for key in (cookie_key, response.headers.get(HEADER)):
            if key:
                self.keys.add(key)
        line = f"   {method:<4} {path:<12} {who:<44} -> {response.status_code}  {'  '.join(extra)}"
        print(line.rstrip())
        return response

    def api(
        self,
        method: str,
        path: str,
        key: str | None,
        who: str,
        *,
        user_agent: str = API_UA,
        **kwargs: Any,
    ) -> httpx.Response:
        """A request of a cookieless client: a new, empty cookie jar each time; key in the header."""
        headers = {HEADER: key} if key is not None else {}
        if key:
            self.keys.add(key)
        with self.client(user_agent) as client:
            return self.send(client, method, path, who, headers=headers, **kwargs)

    def form_login(self, browser: httpx.Client) -> None:
        page = self.send(browser, "GET", "/login/", "browser, from 127.0.0.1")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        self.check(
            page.status_code == 200 and token is not None,
            f"login form served with a CSRF token: {page.status_code}",
        )
        if token is None:
            raise StepAborted("no login form")
        response = self.send(
            browser,
            "POST",
            "/login/",
            "browser, from 127.0.0.1",
            data={**self.credentials, "csrfmiddlewaretoken": token.group(1), "next": "/session/"},
        )
        self.check(
            response.status_code == 302 and response.headers.get("location") == "/session/",
            f"logged in through the form: {response.status_code}, redirected to /session/",
        )

    def expect_logged_out(self) -> None:
        response = self.send(self.browser, "GET", "/session/", "browser (the victim), 127.0.0.1")
        # The refused key stays refused (400) where the worker shares the cache that remembers it;
        # without REDIS_URL each worker has its own cache, and another worker sends it to log in.
        refused = response.status_code == 400
        to_login = response.status_code == 302 and response.headers.get("location", "").startswith("/login/")
        self.check_revoked(
            refused or to_login,
            f"the browser is no longer logged in: {response.status_code} "
            + ("(its key stays refused)" if refused else "to the login page"),
        )

    def expect_gone(self, key: str) -> None:
        exists = store_has(key)
        if exists is not None:
            self.check(not exists, f"the key is gone from the session store: exists={exists}")

    def expect_refused(self, response: httpx.Response) -> None:
        self.check(
            response.status_code == 400 and not response.content,
            f"refused: {response.status_code} (expected 400, empty body)",
        )

    # -- steps -----------------------------------------------------------------------------

    def run(self) -> None:
        """Run every step; a step that cannot go on is a failure, not the end of the demo."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("a", self.step_a),
            ("b", self.step_b),
            ("c", self.step_c),
            ("d", self.step_d),
            ("e", self.step_e),
            ("f", self.step_f),
        ]
        for name, step in steps:
            try:
                step()
            except StepAborted as exc:
                self.check(False, f"step {name} cannot go on: {exc}")
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                self.check(False, f"step {name} broke: {type(exc).__name__}: {exc}")
            self.end_step(name)
        self.browser.close()

    def step_a(self) -> None:
        self.step("(a) A browser logs in through the login form and browses")
        self.form_login(self.browser)
        key = self.cookie_key = self.browser.cookies.get(COOKIE)
        self.check(bool(key), f"the browser holds a session cookie: {short(key)}")
        for path in ("/session/", "/", "/session/"):
            page = self.send(self.browser, "GET", path, "browser, from 127.0.0.1")
            self.check(page.status_code == 200, f"browsing {path}: {page.status_code}")
        user, bound_ip, bound_ua, ua_is_bound = (
            field(page.text, f) for f in ("user", "bound-ip", "bound-ua", "ua-is-bound")
        )
        self.note(f"user={user!r}")
        self.note(f"session bound to IP {bound_ip!r}, User-Agent digest {bound_ua!r}")
        self.check(
            user == self.username and bound_ip == "127.0.0.1" and ua_is_bound == "yes",
            "the session page shows the user and the browser's IP and User-Agent",
        )
        if not key:
            raise StepAborted("no session cookie")
        with self.client(BROWSER_UA, cookie_key=key) as same:
            response = self.send(same, "GET", "/session/", "copied cookie, same UA, 127.0.0.1")
        self.check(
            response.status_code == 200,
            f"the key from a new connection, same IP and User-Agent, is fine: {response.status_code}",
        )

    def step_b(self) -> None:
        self.step("(b) The session cookie replayed with another User-Agent")
        key = self.cookie_key
        if not key:
            raise StepAborted("step (a) left no session cookie to replay")
        with self.client(OTHER_UA, cookie_key=key) as thief:
            response = self.send(thief, "GET", "/session/", "copied cookie, other UA, 127.0.0.1")
        self.expect_refused(response)
        self.expect_logged_out()
        self.expect_gone(key)

    def step_c(self) -> None:
        self.step(f"(c) Log in again, then replay the session cookie from {OTHER_IP}")
        self.form_login(self.browser)
        page = self.send(self.browser, "GET", "/session/", "browser, from 127.0.0.1")
        key = self.browser.cookies.get(COOKIE)
        bound_ip = field(page.text, "bound-ip")
        self.check(
            page.status_code == 200 and bound_ip == "127.0.0.1",
            f"browsing again: {page.status_code}, bound to {bound_ip!r}, new key {short(key)}",
        )
        if not key:
            raise StepAborted("no session cookie to replay")
        with self.client(BROWSER_UA, source=OTHER_IP, cookie_key=key) as thief:
            response = self.send(thief, "GET", "/session/", f"copied cookie, same UA, {OTHER_IP}")
        self.expect_refused(response)
        self.expect_logged_out()
        self.expect_gone(key)

    def step_d(self) -> None:
        self.step(f"(d) A cookieless client logs in through the JSON API, browses with {HEADER}")
        response = self.api("GET", "/api/login/", None, "no cookie, no header")
        self.check(
            response.status_code == 200 and HEADER not in response.headers and bool(set_cookie_key(response)),
            f"a client that asks for no header session gets the key in a cookie only: {response.status_code}",
        )
        response = self.api("GET", "/api/login/", "", f"empty {HEADER}: asks for a header session")
        start_key = response.headers.get(HEADER)
        self.check(
            response.status_code == 200 and bool(start_key) and set_cookie_key(response) is None,
            f"new session: {response.status_code}, key in {HEADER} only (no cookie)",
        )
        cache_control = response.headers.get("cache-control", "")
        self.check(
            "no-store" in cache_control and "private" in cache_control,
            f"a response with a key is not cacheable: Cache-Control: {cache_control!r}",
        )
        if not start_key:
            raise StepAborted(f"no key in {HEADER}")
        who = f"{HEADER}, no CSRF token"
        response = self.api("POST", "/api/login/", start_key, who, json=self.credentials)
        key = response.headers.get(HEADER)
        self.check(
            response.status_code == 200 and bool(key) and key != start_key,
            f"logged in without a CSRF token: {response.status_code}; key rotated {short(start_key)} -> {short(key)}",
        )
        if not key:
            raise StepAborted(f"no key in {HEADER} after the login")
        for _ in range(2):
            response = self.api("GET", "/api/me/", key, f"{HEADER}, from 127.0.0.1")
            self.check(
                response.status_code == 200 and response.json().get("user") == self.username,
                f"browsing /api/me/: {response.status_code}",
            )
        me = response.json()
        self.note(f"user={me.get('user')!r}, identified by the header: {me.get('header_session')}")
        self.note(f"session bound to IP {me.get('bound_ip')!r}, User-Agent digest {me.get('bound_ua')!r}")
        self.check(
            me.get("bound_ip") == "127.0.0.1" and me.get("ua_is_bound") is True and me.get("header_session") is True,
            "the API shows the header session bound to the client's IP and User-Agent",
        )
        response = self.api("GET", "/api/me/", start_key, f"pre-login key in {HEADER}")
        self.check_revoked(
            response.status_code == 401 and response.headers.get(HEADER) == "",
            f"the pre-login key is dead: {response.status_code}, {HEADER}: {short(response.headers.get(HEADER))}",
        )
        who = f"copied {HEADER}, other UA"
        response = self.api("GET", "/api/me/", key, who, user_agent=OTHER_UA)
        self.check(
            response.status_code == 400 and response.headers.get(HEADER) == "",
            f"replayed with another User-Agent: {response.status_code} (expected 400), "
            f"{HEADER}: {short(response.headers.get(HEADER))} (drop the key)",
        )
        response = self.api("GET", "/api/me/", key, f"{HEADER}, the real client again")
        self.check_revoked(
            response.status_code == 400 and response.headers.get(HEADER) == "",
            f"the key stays refused, for the real client too: {response.status_code}, "
            f"{HEADER}: {short(response.headers.get(HEADER))}",
        )
        self.expect_gone(key)

    def step_e(self) -> None:
        self.step("(e) The header client logs out; cookie sessions still need a CSRF token")
        start_key = self.api("GET", "/api/login/", "", f"empty {HEADER}").headers.get(HEADER)
        who = f"{HEADER}, no CSRF token"
        key = self.api("POST", "/api/login/", start_key, who, json=self.credentials).headers.get(HEADER)
        if not key:
            raise StepAborted(f"no key in {HEADER} after the login")
        response = self.api("POST", "/api/logout/", key, who)
        self.check(
            response.status_code == 200 and response.headers.get(HEADER) == "",
            f"logged out: {response.status_code}, {HEADER}: {short(response.headers.get(HEADER))} (drop the key)",
        )
        response = self.api("GET", "/api/me/", key, f"{HEADER}, after logout")
        self.check_revoked(response.status_code == 401, f"the key no longer logs in: {response.status_code}")
        with self.client(BROWSER_UA) as jar:
            self.send(jar, "GET", "/api/login/", "cookie client")
            who = "cookie client, no CSRF token"
            response = self.send(jar, "POST", "/api/login/", who, json=self.credentials)
            self.check(
                response.status_code == 403,
                f"a cookie session without a CSRF token is refused: {response.status_code} (expected 403)",
            )
            self.send(jar, "GET", "/login/", "cookie client (gets the csrftoken cookie)")
            headers = {"X-CSRFToken": jar.cookies.get("csrftoken", "")}
            who = "cookie client, X-CSRFToken"
            response = self.send(jar, "POST", "/api/login/", who, json=self.credentials, headers=headers)
            self.check(response.status_code == 200, f"with the token: {response.status_code}")
            self.check(
                HEADER not in response.headers,
                f"a cookie session's key is never sent in {HEADER}",
            )

    def step_f(self) -> None:
        self.step("(f) A DPoP client's key is stolen: useless without the client's private key")
        from restricted_sessions.dpop_client import DPoPSessionAuth

        auth = DPoPSessionAuth()
        with httpx.Client(base_url=self.base_url, headers={"User-Agent": API_UA}, auth=auth, timeout=15) as app:
            response = app.post("/api/login/", json=self.credentials)
            self.check(
                response.status_code == 200 and bool(auth.session_key),
                f"logged in with a DPoP proof (key thumbprint {auth.key.thumbprint()[:8]}...): {response.status_code}",
            )
            response = app.get("/api/me/")
            self.check(response.status_code == 200, f"browsing with a fresh proof per request: {response.status_code}")
        stolen = auth.session_key
        if not stolen:
            raise StepAborted("no session key after the DPoP login")
        self.keys.add(stolen)
        response = self.api("GET", "/api/me/", stolen, f"stolen {HEADER}, same UA, same IP, no proof")
        self.check(
            response.status_code == 401 and "invalid_dpop_proof" in response.headers.get("www-authenticate", ""),
            f"the thief is refused: {response.status_code}, "
            f"WWW-Authenticate: {response.headers.get('www-authenticate')}",
        )
        self.expect_gone(stolen)


def add_credentials(parser: argparse.ArgumentParser) -> None:
    """The demo user's ``--username`` and ``--password`` (default: $DEMO_PASSWORD), for every step's driver."""
    parser.add_argument("--username", default="demo")
    parser.add_argument(
        "--password",
        default=os.environ.get("DEMO_PASSWORD"),
        required="DEMO_PASSWORD" not in os.environ,
        help="default: $DEMO_PASSWORD",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8000")
    add_credentials(parser)
    parser.add_argument("--server-log", type=Path, help="the server's log, checked at the end")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # exampleproject, for store_has
    demo = Demo(args.base_url.rstrip("/"), args.username, args.password)
    print(f"Driving {demo.base_url} as user {args.username!r} (httpx {httpx.__version__})")
    demo.run()
    if args.server_log:
        demo.check_server_log(args.server_log, min_warnings=3)
    return demo.summary()


if __name__ == "__main__":
    sys.exit(main())
