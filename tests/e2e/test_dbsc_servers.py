"""DBSC across two app servers behind nginx, sharing PostgreSQL (sessions) and Redis (cache).

tests/e2e/dbsc_site runs on uvicorn (ASGI, the async endpoints) as server ``a`` and on gunicorn (WSGI,
the sync endpoints) as server ``b``, both on plain HTTP behind nginx, which terminates TLS and sends
``X-Forwarded-Proto`` and ``X-Forwarded-For`` from the trusted proxy address. Sessions are
``cached_db``: rows in PostgreSQL, copies in Redis. nginx routes by path as a load balancer might:
registration to ``a``, refresh to ``b``; an ``X-Backend`` header picks the server for a page.

The browser is a Python DBSC client written here (httpx and an ES256 key from joserfc), sending
what Chromium sent in the probe (shared/probes/dbsc-chromium): bare-token JWTs in
``Secure-Session-Response``, the key in the registration proof's header, ``jti`` the challenge, and
``Sec-Secure-Session-Id`` on refresh. The real browser runs in test_dbsc_browser.py, on one server.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from restricted_sessions.dbsc.protocol import REGISTRATION_GRACE
from tests.e2e.conftest import PROXY_ADDRESS, running
from tests.e2e.dbsc_site.launch import migrate, self_signed, site_env
from tests.e2e.dbsc_site.views import SERVED_BY
from tests.e2e.servers import (
    REPO,
    PostgresServer,
    Process,
    RedisServer,
    free_port,
    gunicorn_has_control_socket,
    program,
    run,
    wait_until,
)

COOKIE_AGE = 3
BOUND_COOKIE = "__Host-rs-dbsc"

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    map $uri $by_path {{
        /dbsc/refresh/ 127.0.0.1:{b};
        default 127.0.0.1:{a};
    }}
    map $http_x_backend $backend {{
        a 127.0.0.1:{a};
        b 127.0.0.1:{b};
        default $by_path;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://$backend;
            proxy_bind {proxy_address};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


@dataclass
class Cluster:
    origin: str
    cert: Path

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def serve(name: str, command: list[str], env: dict[str, str], root: Path, port: int) -> Process:
    process = Process(name, command, root / f"{name}.log", env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}/healthz/"
    wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, f"{name} at {url}", process)
    return process


@pytest.fixture(scope="module")
def cluster(postgres: PostgresServer, redis: RedisServer, workdir: Callable[[str], Path]) -> Iterator[Cluster]:
    """nginx (TLS) in front of uvicorn ``a`` and gunicorn ``b``, one PostgreSQL database, one Redis."""
    root = workdir("dbsc-servers")
    cert, key, _ = self_signed(root)
    log = root / "requests.log"
    log.touch()
    processes: list[Process] = []

    def start() -> Cluster:
        postgres.create_database("dbsc_site")
        shared = {
            "DBSC_SITE_POSTGRES": f"127.0.0.1:{postgres.port}/dbsc_site",
            "DBSC_SITE_REDIS": redis.url(3),
            "DBSC_SITE_PROXY": PROXY_ADDRESS,
        }
        migrate(site_env(root, log, "migrate", COOKIE_AGE, **shared))
        port_a, port_b = free_port(), free_port()
        processes.append(serve("a", [
            sys.executable, "-m", "uvicorn", "tests.e2e.dbsc_site.asgi:application", "--host", "127.0.0.1",
            "--port", str(port_a), "--lifespan", "off", "--no-access-log", "--timeout-graceful-shutdown", "2",
        ], site_env(root, log, "a", COOKIE_AGE, **shared), root, port_a))
        gunicorn = [sys.executable, "-m", "gunicorn", "tests.e2e.dbsc_site.wsgi:application", "--workers", "2",
                    "--bind", f"127.0.0.1:{port_b}", "--graceful-timeout", "2"]
        if gunicorn_has_control_socket():
            gunicorn.append("--no-control-socket")
        processes.append(serve("b", gunicorn, site_env(root, log, "b", COOKIE_AGE, DBSC_SITE_WSGI="1", **shared),
                               root, port_b))
        nginx_root = root / "nginx"
        nginx_root.mkdir()
        os.chmod(nginx_root, 0o777)  # noqa: S103 - nginx's workers (nobody) write their temp files here
        port = free_port()
        conf = nginx_root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            root=nginx_root, port=port, a=port_a, b=port_b, cert=cert, key=key, proxy_address=PROXY_ADDRESS,
            user="user nobody nogroup;" if os.geteuid() == 0 else "",
        ))
        executable = program("nginx", "/usr/sbin/nginx")
        run([executable, "-t", "-p", str(nginx_root), "-c", str(conf)], "nginx -t")
        nginx = Process("nginx", [executable, "-p", str(nginx_root), "-c", str(conf)], nginx_root / "nginx.out")
        processes.append(nginx)
        found = Cluster(f"https://localhost:{port}", cert)
        wait_until(lambda: httpx.get(f"{found.origin}/healthz/", verify=found.tls(), timeout=2).status_code == 200,
                   "nginx with TLS", nginx)
        return found

    def stop() -> None:
        for process in reversed(processes):
            process.stop()

    with running(start, stop) as started:
        yield started


class DbscClient:
    """A DBSC browser in Python: cookies, a P-256 device key, and the registration and refresh exchanges."""

    def __init__(self, cluster: Cluster) -> None:
        self.http = httpx.Client(base_url=cluster.origin, verify=cluster.tls(), timeout=10)
        self.key = ECKey.generate_key("P-256")
        self.session_id = ""
        self.refresh_url = ""
        self.cached_challenge: str | None = None
        self.registered_at = 0.0

    def proof(self, challenge: str, *, registration: bool = False) -> str:
        header: dict[str, Any] = {"alg": "ES256", "typ": "dbsc+jwt"}
        if registration:
            header["jwk"] = self.key.as_dict(private=False)
        return jws.serialize_compact(header, json.dumps({"jti": challenge}), self.key, algorithms=["ES256"])

    def get(self, path: str, backend: str) -> httpx.Response:
        return self.http.get(path, headers={"X-Backend": backend})

    def login(self, backend: str) -> httpx.Response:
        response = self.get("/login/", backend)
        assert response.status_code == 200
        invitation = response.headers["Secure-Session-Registration"]
        match = re.fullmatch(r'\(([A-Z0-9 ]+)\);path="([^"]+)";challenge="([^"]+)"', invitation)
        assert match is not None, invitation
        assert "ES256" in match[1].split()
        proof = self.proof(match[3], registration=True)
        registered = self.http.post(match[2], headers={"Secure-Session-Response": proof})
        self.registered_at = time.monotonic()
        assert registered.status_code == 200, registered.text
        instructions = registered.json()
        self.session_id = instructions["session_identifier"]
        self.refresh_url = instructions["refresh_url"]
        self.cached_challenge = _challenge(registered)
        assert instructions["credentials"][0]["name"] == BOUND_COOKIE
        return registered

    def refresh(self, *, use_cached: bool = False) -> list[httpx.Response]:
        """Refresh as Chromium does: with the cached challenge, or first without a proof for a 403 challenge."""
        answers = []
        headers = {"Sec-Secure-Session-Id": self.session_id}
        if use_cached and self.cached_challenge is not None:
            headers["Secure-Session-Response"] = self.proof(self.cached_challenge)
        answer = self.http.post(self.refresh_url, headers=headers)
        answers.append(answer)
        if answer.status_code == 403:
            headers["Secure-Session-Response"] = self.proof(_challenge(answer))
            answer = self.http.post(self.refresh_url, headers=headers)
            answers.append(answer)
        if answer.status_code == 200 and "Secure-Session-Challenge" in answer.headers:
            self.cached_challenge = _challenge(answer)
        return answers

    def wait_for_expiry(self) -> None:
        """Wait until the bound cookie expired, and the registration's grace period is over."""
        grace_left = self.registered_at + REGISTRATION_GRACE - time.monotonic()
        time.sleep(max(COOKIE_AGE, grace_left) + 0.5)
        assert BOUND_COOKIE not in self.cookies()

    def cookies(self) -> dict[str, str]:
        self.http.cookies.jar.clear_expired_cookies()
        return {cookie.name: cookie.value or "" for cookie in self.http.cookies.jar}


def _challenge(response: httpx.Response) -> str:
    match = re.fullmatch(r'"([^"]+)";id="([^"]+)"', response.headers["Secure-Session-Challenge"])
    assert match is not None
    return match[1]


def served_by(response: httpx.Response) -> str:
    return response.headers[SERVED_BY]


def test_register_on_one_server_refresh_on_the_other_and_a_copied_cookie_is_refused_on_both(
    cluster: Cluster,
) -> None:
    browser = DbscClient(cluster)
    try:
        registered = browser.login("a")
        assert served_by(registered) == "a"  # uvicorn, the async endpoint
        page = browser.get("/page/", "b")
        assert (page.status_code, served_by(page), page.text.endswith("<p id=user>demo</p>")) == (200, "b", True)

        # The bound cookie expires; the refresh goes to gunicorn, which knows the key only from the shared store.
        browser.wait_for_expiry()
        refused = browser.get("/page/", "b")
        assert (refused.status_code, refused.text) == (403, "refused: dbsc")
        challenge, renewed = browser.refresh()
        assert [challenge.status_code, renewed.status_code] == [403, 200]
        assert [served_by(challenge), served_by(renewed)] == ["b", "b"]
        assert renewed.json()["session_identifier"] == browser.session_id
        assert BOUND_COOKIE in browser.cookies()
        for backend in ("a", "b"):
            page = browser.get("/page/", backend)
            assert (page.status_code, served_by(page)) == (200, backend)

        # The challenge that rode along with gunicorn's answer is answered straight away.
        browser.wait_for_expiry()
        (renewed,) = browser.refresh(use_cached=True)
        assert (renewed.status_code, served_by(renewed)) == (200, "b")
        assert browser.get("/page/", "a").status_code == 200

        # The long-lived session cookie alone: refused by both servers, and the owner stays logged in.
        copied = {"sessionid": browser.cookies()["sessionid"]}
        with httpx.Client(base_url=cluster.origin, verify=cluster.tls(), cookies=copied) as thief:
            for backend in ("a", "b"):
                stolen = thief.get("/page/", headers={"X-Backend": backend})
                assert (stolen.status_code, stolen.text, served_by(stolen)) == (403, "refused: dbsc", backend)
        assert browser.get("/page/", "b").text.endswith("<p id=user>demo</p>")

        # Log out on uvicorn: the bound cookie goes, and gunicorn's refresh ends the browser's session.
        logout = browser.get("/logout/", "a")
        assert logout.status_code == 200
        assert BOUND_COOKIE not in browser.cookies()
        (ended,) = browser.refresh()
        assert (ended.status_code, served_by(ended)) == (200, "b")
        assert ended.json() == {"session_identifier": browser.session_id, "continue": False}
    finally:
        browser.http.close()
