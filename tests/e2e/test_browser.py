"""A real browser: Debian's headless Chromium driven by Playwright (never a downloaded browser).

Against each multi-worker deployment of the example project: a user logs in through the login
form; the cookie copied into another browser is refused; and a page on another origin talks
to the JSON API with fetch, cookies off, carrying the key in X-SessionID.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.clients import COOKIE, DEMO_PASSWORD, DEMO_USER
from tests.e2e.conftest import Deployment
from tests.e2e.servers import ServerError, StaticSite, program

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError as exc:  # fail loudly, never skip
    raise ImportError(f"the browser tests need Playwright (the tox env e2e installs it): {exc}") from exc

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
OTHER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"

CLIENT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>header client</title></head><body>
<script>
// A cross-origin client of the API: no cookies, the session key kept in a variable.
async function call(api, method, path, key, body) {
  // Sent empty until the client holds a key: that asks for a header session.
  const headers = {"X-SessionID": key || ""};
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(api + path, {
    method, headers, credentials: "omit", body: body ? JSON.stringify(body) : undefined,
  });
  let data = null;
  try { data = await response.json(); } catch (e) {}
  return {status: response.status, key: response.headers.get("X-SessionID"), data};
}
</script>
</body></html>
"""


@pytest.fixture(scope="session")
def browser(playwright_driver: Any) -> Iterator[Any]:
    try:
        executable = program("chromium", "/usr/bin/chromium")
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        chromium = playwright_driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except PlaywrightError as exc:
        pytest.fail(f"could not start {executable}: {exc}", pytrace=False)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def client_page(other_origin: StaticSite, browser: Any) -> Iterator[Any]:
    other_origin.pages["/client.html"] = CLIENT_PAGE
    context = browser.new_context(user_agent=UA)
    page = context.new_page()
    page.goto(f"{other_origin.origin}/client.html")
    yield page
    context.close()


def log_in_with_the_form(page: Any, deployment: Deployment) -> None:
    page.goto(f"{deployment.url()}/login/")
    page.fill("#id_username", DEMO_USER)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{deployment.url()}/session/")


def test_a_user_logs_in_and_browses_and_a_copied_cookie_is_refused(browser: Any, deployment: Deployment) -> None:
    owner = browser.new_context(user_agent=UA)
    thief = browser.new_context(user_agent=OTHER_UA)
    try:
        page = owner.new_page()
        log_in_with_the_form(page, deployment)
        assert page.inner_text("#user") == DEMO_USER
        assert page.inner_text("#ua-is-bound") == "yes"
        assert page.inner_text("#bound-ip") == "127.0.0.1"
        assert page.inner_text("#identified-by") == "cookie"
        for path in ["/", "/session/", "/session/"]:
            assert page.goto(f"{deployment.url()}{path}").status == 200
        assert page.inner_text("#nav-user") == DEMO_USER

        (cookie,) = [c for c in owner.cookies() if c["name"] == COOKIE]
        assert cookie["httpOnly"]
        thief.add_cookies([cookie])
        thief_page = thief.new_page()
        # Chromium shows its own error page for an empty 400, and Playwright raises for it.
        with thief_page.expect_response(f"{deployment.url()}/session/") as stolen, contextlib.suppress(PlaywrightError):
            thief_page.goto(f"{deployment.url()}/session/")

        assert stolen.value.status == 400
        assert not deployment.session_exists(cookie["value"])
        # The key stays refused for the owner too; the refusal deletes the cookie ...
        with page.expect_response(f"{deployment.url()}/session/") as again, contextlib.suppress(PlaywrightError):
            page.goto(f"{deployment.url()}/session/")
        assert again.value.status == 400
        # ... so the owner is logged out and can log in again (a new tab: this one shows an error page).
        page = owner.new_page()
        page.goto(f"{deployment.url()}/session/")
        assert page.url.startswith(f"{deployment.url()}/login/")
    finally:
        owner.close()
        thief.close()


def test_a_page_on_another_origin_uses_the_api_through_the_header(client_page: Any, deployment: Deployment) -> None:
    api = deployment.url()

    def call(method: str, path: str, key: str | None = None, body: Any = None) -> dict[str, Any]:
        return client_page.evaluate(  # type: ignore[no-any-return]
            "([api, method, path, key, body]) => call(api, method, path, key, body)", [api, method, path, key, body]
        )

    started = call("GET", "/api/login/")
    assert started["status"] == 200
    assert started["key"], "CORS must expose X-SessionID so that the page can read the key"

    # No CSRF token anywhere: header sessions skip the check.
    logged_in = call("POST", "/api/login/", started["key"], {"username": DEMO_USER, "password": DEMO_PASSWORD})
    assert logged_in["status"] == 200
    key = logged_in["key"]
    assert key
    assert key != started["key"]

    me = call("GET", "/api/me/", key)
    assert me["status"] == 200
    assert me["data"]["user"] == DEMO_USER
    assert me["data"]["header_session"] is True
    assert me["data"]["ua_is_bound"] is True
    assert me["key"] is None  # steady state: no new key
    assert deployment.session_exists(key)

    logged_out = call("POST", "/api/logout/", key)
    assert (logged_out["status"], logged_out["key"]) == (200, "")  # empty: drop the key
    assert call("GET", "/api/me/", key)["status"] == 401
    assert not deployment.session_exists(key)


FIRST_LOGIN = """async ([username, password]) => {
  // The login page's own script: a CSRF token, no session yet, and fetch() with cookies.
  const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const response = await fetch("/api/login/", {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify({username, password}),
  });
  const me = await fetch("/api/me/", {credentials: "same-origin"});
  return {
    status: response.status,
    key: response.headers.get("X-SessionID"),
    exposed: [...response.headers.keys()],
    me: me.status,
    meKey: me.headers.get("X-SessionID"),
    cookies: document.cookie,
  };
}"""


def test_a_browsers_first_login_by_fetch_gives_script_no_key(browser: Any, deployment: Deployment) -> None:
    # HttpOnly must hold at the first login: the key travels in the cookie only (issue 10, fault 1).
    context = browser.new_context(user_agent=UA)
    try:
        page = context.new_page()
        page.goto(f"{deployment.url()}/login/")
        assert [c["name"] for c in context.cookies()] == ["csrftoken"]

        result = page.evaluate(FIRST_LOGIN, [DEMO_USER, DEMO_PASSWORD])

        assert (result["status"], result["me"]) == (200, 200)
        assert "content-type" in result["exposed"]  # same origin: the script sees every header
        assert (result["key"], result["meKey"]) == (None, None)
        (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
        assert cookie["httpOnly"]
        assert cookie["value"] not in result["cookies"]
        assert deployment.session_exists(cookie["value"])
    finally:
        context.close()


def test_csrf_is_still_enforced_for_cookie_sessions_from_another_origin(
    browser: Any, other_origin: StaticSite, deployment: Deployment
) -> None:
    other_origin.pages["/forged.html"] = (
        f'<!doctype html><form id="forged" method="post" action="{deployment.url()}/api/logout/"></form>'
    )
    context = browser.new_context(user_agent=UA)
    try:
        page = context.new_page()
        log_in_with_the_form(page, deployment)

        page.goto(f"{other_origin.origin}/forged.html")
        with page.expect_navigation() as navigation:
            page.evaluate("document.getElementById('forged').submit()")
        assert navigation.value.status == 403

        page.goto(f"{deployment.url()}/session/")
        assert page.inner_text("#user") == DEMO_USER  # the forged logout did nothing
    finally:
        context.close()
