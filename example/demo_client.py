"""Drive the running example project over loopback with httpx and show what restricted_sessions does.

Usage: ``python demo_client.py http://127.0.0.1:8000 --password PASSWORD [--server-log PATH]``
(``demo.sh`` starts the server and runs this). Each check prints PASS or FAIL with the status codes;
the exit status is 1 when any check fails.

Steps:
(a) a browser logs in through the login form and browses;
(b) its session cookie replayed with another User-Agent: 400, and the session is gone;
(c) it logs in again; the cookie replayed from another source address (127.0.0.2): 400, session gone;
(d) a cookieless client logs in through the JSON API and browses with the X-SessionID header; the same
    key replayed with another User-Agent is refused, and the empty X-SessionID tells the client to drop it;
(e) the header client logs out; CSRF is still enforced for cookie sessions on the same API.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx

HEADER = "X-SessionID"
COOKIE = "sessionid"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 DemoBrowser/1.0"
OTHER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AttackerBrowser/6.6"
API_UA = "demo-api-client/1.0 (httpx)"
OTHER_IP = "127.0.0.2"


def short(key: str | None) -> str:
    """Enough of a session key to see that it changed, not enough to use it."""
    if key is None:
        return "(none)"
    return f"{key[:8]}..." if key else '"" (empty)'


def field(page: str, element_id: str) -> str | None:
    match = re.search(rf'<dd id="{element_id}">(.*?)</dd>', page, re.S)
    return html.unescape(match.group(1)) if match else None


def set_cookie_key(response: httpx.Response) -> str | None:
    """The session key that a response's Set-Cookie gives, if any ("" when it deletes the cookie)."""
    for value in response.headers.get_list("set-cookie"):
        name, _, rest = value.partition("=")
        if name.strip() == COOKIE:
            return rest.split(";", 1)[0].strip('"')
    return None


class StepAborted(Exception):
    """A step cannot go on (for example, the login it builds on failed)."""


class Demo:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self.failures: list[str] = []
        self.step_failures = 0
        self.keys: set[str] = (
            set()
        )  # every session key seen, to make sure the server never logs one

    # -- output ------------------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self.step_failures = 0
        print(f"\n== {title}")

    def end_step(self, name: str) -> None:
        print(f"   -> step {name}: {'PASS' if not self.step_failures else 'FAIL'}")

    def check(self, ok: bool, what: str) -> bool:
        print(f"   {'PASS' if ok else 'FAIL'}  {what}")
        if not ok:
            self.failures.append(what)
            self.step_failures += 1
        return ok

    def note(self, text: str) -> None:
        print(f"         {text}")

    # -- HTTP ----------------------------------------------------------------------------------------

    def client(
        self, user_agent: str, *, source: str | None = None, cookie_key: str | None = None
    ) -> httpx.Client:
        """A client with its own cookie jar; ``source`` binds its socket, ``cookie_key`` sends a copied cookie."""
        headers = {"User-Agent": user_agent}
        if cookie_key is not None:
            headers["Cookie"] = f"{COOKIE}={cookie_key}"
            self.keys.add(cookie_key)
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(
            base_url=self.base_url, headers=headers, transport=transport, timeout=15
        )

    def send(
        self, client: httpx.Client, method: str, path: str, who: str, **kwargs: Any
    ) -> httpx.Response:
        response = client.request(method, path, **kwargs)
        extra = []
        if "location" in response.headers:
            extra.append(f"Location: {response.headers['location']}")
        cookie_key = set_cookie_key(response)
        if cookie_key is not None:
            extra.append(f"Set-Cookie {COOKIE}={short(cookie_key)}")
        if HEADER in response.headers:
            extra.append(f"{HEADER}: {short(response.headers[HEADER])}")
        for key in (cookie_key, response.headers.get(HEADER)):
            if key:
                self.keys.add(key)
        print(
            f"   {method:<4} {path:<12} {who:<44} -> {response.status_code}  {'  '.join(extra)}".rstrip()
        )
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
        """One request of a cookieless client: a new client (empty cookie jar) each time, key in the header."""
        headers = {HEADER: key} if key is not None else {}
        if key:
            self.keys.add(key)
        with self.client(user_agent) as client:
            return self.send(client, method, path, who, headers=headers, **kwargs)

    def form_login(self, browser: httpx.Client) -> bool:
        page = self.send(browser, "GET", "/login/", "browser, from 127.0.0.1")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if not self.check(
            page.status_code == 200 and token is not None,
            f"login form served with a CSRF token: {page.status_code}",
        ):
            return False
        assert token is not None
        response = self.send(
            browser,
            "POST",
            "/login/",
            "browser, from 127.0.0.1",
            data={
                "username": self.username,
                "password": self.password,
                "csrfmiddlewaretoken": token.group(1),
                "next": "/session/",
            },
        )
        return self.check(
            response.status_code == 302 and response.headers.get("location") == "/session/",
            f"logged in through the form: {response.status_code}, redirected to /session/",
        )

    def expect_logged_out(self, browser: httpx.Client) -> None:
        response = self.send(browser, "GET", "/session/", "browser (the victim), from 127.0.0.1")
        self.check(
            response.status_code == 302
            and response.headers.get("location", "").startswith("/login/"),
            f"the browser is no longer logged in: {response.status_code} to the login page",
        )

    def expect_gone(self, key: str) -> None:
        exists = store_has(key)
        if exists is None:
            self.note("(session store not checked from here: see above)")
        else:
            self.check(
                not exists, f"the session key is gone from the session store: exists={exists}"
            )

    # -- steps ---------------------------------------------------------------------------------------

    def run(self) -> None:
        """Run every step; a step that cannot go on (say, no session to replay) is a failure, not the end."""
        self.browser = self.client(BROWSER_UA)
        self.cookie_key: str | None = None
        self.credentials = {"username": self.username, "password": self.password}
        for name, step in [
            ("a", self.step_a),
            ("b", self.step_b),
            ("c", self.step_c),
            ("d", self.step_d),
            ("e", self.step_e),
        ]:
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
        browser = self.browser
        self.form_login(browser)
        key = self.cookie_key = browser.cookies.get(COOKIE)
        self.check(bool(key), f"the browser holds a session cookie: {short(key)}")
        for path in ("/session/", "/", "/session/"):
            page = self.send(browser, "GET", path, "browser, from 127.0.0.1")
            self.check(page.status_code == 200, f"browsing {path}: {page.status_code}")
        bound_ip, bound_ua = field(page.text, "bound-ip"), field(page.text, "bound-ua")
        self.note(f"user={field(page.text, 'user')!r}")
        self.note(f"session bound to IP {bound_ip!r}, User-Agent {bound_ua!r}")
        self.check(
            field(page.text, "user") == self.username
            and bound_ip == "127.0.0.1"
            and bound_ua == BROWSER_UA,
            "the session page shows the user and the browser's IP and User-Agent",
        )
        if not key:
            raise StepAborted("no session cookie")
        with self.client(BROWSER_UA, cookie_key=key) as same:
            response = self.send(same, "GET", "/session/", "copied cookie, same UA, from 127.0.0.1")
        self.check(
            response.status_code == 200,
            f"a new connection with the same IP and User-Agent is fine: {response.status_code}",
        )

    def step_b(self) -> None:
        self.step("(b) The session cookie replayed with another User-Agent")
        key = self.cookie_key
        if not key:
            raise StepAborted("step (a) left no session cookie to replay")
        with self.client(OTHER_UA, cookie_key=key) as thief:
            response = self.send(
                thief, "GET", "/session/", "copied cookie, other UA, from 127.0.0.1"
            )
        self.check(
            response.status_code == 400 and not response.content,
            f"refused: {response.status_code} (expected 400, empty body)",
        )
        self.expect_logged_out(self.browser)
        self.expect_gone(key)

    def step_c(self) -> None:
        self.step(
            f"(c) Log in again, then replay the session cookie from another address ({OTHER_IP})"
        )
        browser = self.browser
        self.form_login(browser)
        page = self.send(browser, "GET", "/session/", "browser, from 127.0.0.1")
        key = browser.cookies.get(COOKIE)
        self.check(
            page.status_code == 200 and field(page.text, "bound-ip") == "127.0.0.1",
            f"browsing again: {page.status_code}, bound to {field(page.text, 'bound-ip')!r}, new key {short(key)}",
        )
        if not key:
            raise StepAborted("no session cookie to replay")
        with self.client(BROWSER_UA, source=OTHER_IP, cookie_key=key) as thief:
            response = self.send(
                thief, "GET", "/session/", f"copied cookie, same UA, from {OTHER_IP}"
            )
        self.check(
            response.status_code == 400 and not response.content,
            f"refused: {response.status_code} (expected 400, empty body)",
        )
        self.expect_logged_out(browser)
        self.expect_gone(key)

    def step_d(self) -> None:
        self.step(
            "(d) A cookieless client logs in through the JSON API and browses with the X-SessionID header"
        )
        response = self.api("GET", "/api/login/", None, "no cookie, no header")
        start_key = response.headers.get(HEADER)
        self.check(
            response.status_code == 200
            and bool(start_key)
            and set_cookie_key(response) == start_key,
            f"a new session; its key comes in {HEADER} (and in a cookie, ignored here): {response.status_code}",
        )
        self.check(
            "no-store" in response.headers.get("cache-control", "")
            and "private" in response.headers.get("cache-control", ""),
            f"the response that carries a key is not cacheable: Cache-Control: {response.headers.get('cache-control')!r}",
        )
        if not start_key:
            raise StepAborted(f"no key in {HEADER}")
        response = self.api(
            "POST", "/api/login/", start_key, f"{HEADER}, no CSRF token", json=self.credentials
        )
        key = response.headers.get(HEADER)
        self.check(
            response.status_code == 200 and bool(key) and key != start_key,
            f"logged in without a CSRF token (header session): {response.status_code}; key rotated {short(start_key)} -> {short(key)}",
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
        self.note(f"user={me.get('user')!r}, identified by header: {me.get('header_session')}")
        self.note(f"session bound to IP {me.get('bound_ip')!r}, User-Agent {me.get('bound_ua')!r}")
        self.check(
            me.get("bound_ip") == "127.0.0.1"
            and me.get("bound_ua") == API_UA
            and me.get("header_session") is True,
            "the API shows the header session bound to the client's IP and User-Agent",
        )
        response = self.api("GET", "/api/me/", start_key, f"pre-login key in {HEADER}")
        self.check(
            response.status_code == 401 and response.headers.get(HEADER) == "",
            f"the pre-login key is dead: {response.status_code}, {HEADER}: {short(response.headers.get(HEADER))}",
        )
        response = self.api(
            "GET", "/api/me/", key, f"copied {HEADER}, other UA", user_agent=OTHER_UA
        )
        self.check(
            response.status_code == 400 and response.headers.get(HEADER) == "",
            f"replayed with another User-Agent: {response.status_code} (expected 400) and an empty {HEADER} "
            f"(drop the key): {short(response.headers.get(HEADER))}",
        )
        response = self.api("GET", "/api/me/", key, f"{HEADER}, the real client again")
        self.check(
            response.status_code == 401 and response.headers.get(HEADER) == "",
            f"the real client's session is gone too: {response.status_code}, {HEADER}: {short(response.headers.get(HEADER))}",
        )
        self.expect_gone(key)

    def step_e(self) -> None:
        self.step("(e) The header client logs out; cookie sessions still need a CSRF token")
        start_key = self.api("GET", "/api/login/", None, "no cookie, no header").headers.get(HEADER)
        key = self.api(
            "POST", "/api/login/", start_key, f"{HEADER}, no CSRF token", json=self.credentials
        ).headers.get(HEADER)
        if not key:
            raise StepAborted(f"no key in {HEADER} after the login")
        response = self.api("POST", "/api/logout/", key, f"{HEADER}, no CSRF token")
        self.check(
            response.status_code == 200 and response.headers.get(HEADER) == "",
            f"logged out: {response.status_code}, {HEADER}: {short(response.headers.get(HEADER))} (drop the key)",
        )
        response = self.api("GET", "/api/me/", key, f"{HEADER}, after logout")
        self.check(
            response.status_code == 401, f"the key no longer logs in: {response.status_code}"
        )
        with self.client(BROWSER_UA) as cookie_client:
            self.send(cookie_client, "GET", "/api/login/", "cookie client")
            response = self.send(
                cookie_client,
                "POST",
                "/api/login/",
                "cookie client, no CSRF token",
                json=self.credentials,
            )
            self.check(
                response.status_code == 403,
                f"a cookie session without a CSRF token is refused: {response.status_code} (expected 403)",
            )
            self.send(
                cookie_client, "GET", "/login/", "cookie client (fetches the csrftoken cookie)"
            )
            token = cookie_client.cookies.get("csrftoken", "")
            response = self.send(
                cookie_client,
                "POST",
                "/api/login/",
                "cookie client, X-CSRFToken",
                json=self.credentials,
                headers={"X-CSRFToken": token},
            )
            self.check(
                response.status_code == 200, f"the same with the CSRF token: {response.status_code}"
            )
            self.check(
                HEADER not in response.headers, f"a cookie session's key is never sent in {HEADER}"
            )

    def check_server_log(self, path: Path) -> None:
        self.step(
            f"Server log ({path.name}): the restriction's warnings, no errors, no session key"
        )
        text = path.read_text(errors="replace")
        warnings = [
            line for line in text.splitlines() if re.search(r"WARNING restricted_sessions\b", line)
        ]
        for line in warnings:
            print(f"   | {line}")
        self.check(
            len(warnings) >= 3,
            f"a warning on the restricted_sessions logger per refused request: {len(warnings)} lines",
        )
        errors = [
            index
            for index, line in enumerate(text.splitlines())
            if "Traceback (most recent call last)" in line
        ]
        if errors:
            lines = text.splitlines()
            print("   | ... the last server error:")
            for line in lines[errors[-1] : errors[-1] + 40]:
                print(f"   | {line}")
        self.check(not errors, f"no server error (500) in the log: {len(errors)} tracebacks")
        leaked = sorted(key for key in self.keys if key in text)
        self.check(not leaked, f"no session key appears in the server log: {len(leaked)} found")
        self.end_step("log")


def store_has(key: str) -> bool | None:
    """Ask the session store itself (same settings as the server) whether ``key`` still exists.

    None when that cannot be answered from this process: signed cookies have no store, and the cache
    engine without REDIS_URL is each server process's own memory.
    """
    engine = os.environ.get("SESSION_ENGINE", "django.contrib.sessions.backends.db")
    if engine.endswith("signed_cookies") or (
        engine.endswith(".cache") and not os.environ.get("REDIS_URL")
    ):
        print(f"         (no shared session store to look into with {engine})")
        return None
    try:
        import django
        from django.conf import settings

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
        django.setup()  # cheap when already set up
        from importlib import import_module

        return bool(import_module(settings.SESSION_ENGINE).SessionStore().exists(key))
    except Exception as exc:  # the HTTP checks above are the demo; this is a bonus
        print(f"         (could not open the session store: {exc!r})")
        return None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--username", default="demo")
    parser.add_argument(
        "--password",
        default=os.environ.get("DEMO_PASSWORD"),
        required="DEMO_PASSWORD" not in os.environ,
    )
    parser.add_argument(
        "--server-log", type=Path, help="the server's log file, to show the restriction's warnings"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    demo = Demo(args.base_url.rstrip("/"), args.username, args.password)
    print(f"Driving {demo.base_url} as user {args.username!r} (httpx {httpx.__version__})")
    demo.run()
    if args.server_log:
        demo.check_server_log(args.server_log)

    print()
    if demo.failures:
        print(f"DEMO FAILED: {len(demo.failures)} check(s) failed:")
        for failure in demo.failures:
            print(f"  - {failure}")
        return 1
    print("DEMO PASSED: every check behaved as expected.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
