"""HTTP clients of the example project for the end-to-end tests (httpx over loopback)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.serverside import WORKER_HEADER

HEADER = "X-SessionID"
COOKIE = "sessionid"
DEMO_USER = "demo"
DEMO_PASSWORD = "e2e-demo-password"
TIMEOUT = 30.0


def http_client(base_url: str, ua: str, local_address: str | None = None) -> httpx.Client:
    """A client that opens a new connection per request (so requests spread over the workers)."""
    return httpx.Client(
        base_url=base_url,
        transport=httpx.HTTPTransport(local_address=local_address),
        headers={"User-Agent": ua, "Connection": "close"},
        timeout=TIMEOUT,
        follow_redirects=False,
    )


def user_of(response: httpx.Response) -> str | None:
    """Who /api/me/ says the request was served as (None when not logged in or refused)."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.json().get("user")  # type: ignore[no-any-return]
    return None


def worker(response: httpx.Response) -> str:
    return response.headers[WORKER_HEADER]


class HeaderClient:
    """A cookieless client: its session key travels in X-SessionID only, as the protocol says."""

    def __init__(self, base_url: str, ua: str, local_address: str | None = None) -> None:
        self.http = http_client(base_url, ua, local_address)
        self.key: str | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # Without a key it sends the header empty: that asks for a header session (protocol).
        headers = {HEADER: self.key or ""}
        self.http.cookies.clear()
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.http.cookies.clear()
        if HEADER in response.headers:
            self.key = response.headers[HEADER] or None  # empty: the session ended, drop the key
        return response

    def login(self) -> httpx.Response:
        started = self.request("GET", "/api/login/")
        assert started.status_code == 200, started.text
        assert self.key, "GET /api/login/ gave a cookieless client no key"
        first_key = self.key
        response = self.request("POST", "/api/login/", json={"username": DEMO_USER, "password": DEMO_PASSWORD})
        assert response.status_code == 200, response.text
        assert self.key, "the login response carried no key"
        assert self.key != first_key, "login must cycle the key"
        return response

    def me(self) -> httpx.Response:
        return self.request("GET", "/api/me/")

    def close(self) -> None:
        self.http.close()


class CookieClient:
    """A browser-like client: logs in through the HTML form with its CSRF token, keeps cookies."""

    def __init__(self, base_url: str, ua: str, local_address: str | None = None) -> None:
        self.http = http_client(base_url, ua, local_address)

    @property
    def key(self) -> str | None:
        return self.http.cookies.get(COOKIE)

    def login(self) -> httpx.Response:
        form = self.http.get("/login/")
        assert form.status_code == 200, form.text
        token = self.http.cookies["csrftoken"]
        response = self.http.post(
            "/login/",
            data={"username": DEMO_USER, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302, response.text
        assert self.key, "the login response set no session cookie"
        return response

    def me(self) -> httpx.Response:
        response = self.http.get("/api/me/")
        assert HEADER not in response.headers, "a cookie session's key must never be sent in the header"
        return response

    def close(self) -> None:
        self.http.close()


def replay(base_url: str, key: str, *, ua: str, via: str, local_address: str | None = None,
           path: str = "/api/me/") -> httpx.Response:
    """One request that carries a stolen key, as a cookie or in the header."""
    with http_client(base_url, ua, local_address) as http:
        header = {"Cookie": f"{COOKIE}={key}"} if via == "cookie" else {HEADER: key}
        return http.get(path, headers=header)
