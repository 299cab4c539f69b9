"""Real servers for the end-to-end tests, on loopback: started, waited for, always stopped.

Each class starts one kind of server from Debian's packages or the test virtualenv and raises
``ServerError`` with the reason (and the end of the server's log) when it cannot; the fixtures
turn that into a test failure, never a skip.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.loopback import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    PostgresServer,
    Process,
    RedisServer,
    ServerError,
    free_dual_stack_port,
    free_port,
    program,
    run,
    tail,
    wait_until,
)

__all__ = [
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "AppServer",
    "Nginx",
    "PostgresServer",
    "Process",
    "RedisServer",
    "ServerError",
    "StaticSite",
    "free_dual_stack_port",
    "free_port",
    "prepare_example",
    "program",
    "run",
    "tail",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example"
# The example project on gunicorn and uvicorn --------------------------------------------------


def example_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a server of the example project (tests/e2e/server_settings.py)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("RESTRICTEDSESSIONS_", "DJANGO_", "PYTEST_", "COV"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.e2e.server_settings",
        PYTHONPATH=os.pathsep.join([str(EXAMPLE), str(REPO)]),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        DJANGO_SECRET_KEY="restricted-sessions-e2e-not-secret",
    )
    env.pop("PYTHONDEVMODE", None)
    env.update(settings)
    return env


def prepare_example(settings: Mapping[str, str], password: str) -> None:
    """Migrate the example project's database and create the user ``demo``."""
    env = example_env(settings)
    run([sys.executable, "-m", "django", "migrate", "--noinput", "--verbosity", "0"], "manage.py migrate",
        env=env, cwd=EXAMPLE)
    run([sys.executable, "-m", "django", "demo_user", "--username", "demo", "--password", password],
        "manage.py demo_user", env=env, cwd=EXAMPLE)


@cache
def gunicorn_has_control_socket() -> bool:
    # Recent gunicorn opens a control socket at one path per user: several servers would clash.
    out = run([sys.executable, "-m", "gunicorn", "--help"], "gunicorn --help (pip install gunicorn)")
    return "--no-control-socket" in out


class AppServer:
    """The example project served by gunicorn (WSGI) or uvicorn (ASGI) on 127.0.0.1 and ::1.

    gunicorn listens on both addresses in one master. uvicorn takes one address per process, so
    a second uvicorn serves ::1; both share the session store, which is what the tests need.
    """

    def __init__(self, kind: str, settings: Mapping[str, str], workdir: Path, *, workers: int = 2,
                 ipv6: bool = True) -> None:
        if kind not in {"gunicorn", "uvicorn"}:
            raise ValueError(kind)
        self.kind = kind
        self.settings = dict(settings)
        self.workdir = workdir
        self.workers = workers
        self.ipv6 = ipv6
        self.port = free_dual_stack_port() if ipv6 else free_port()
        self.processes: list[Process] = []

    def base_url(self, host: str = "127.0.0.1") -> str:
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def _commands(self) -> list[tuple[str, list[str]]]:
        if self.kind == "gunicorn":
            command = [sys.executable, "-m", "gunicorn", "exampleproject.wsgi:application", "--workers",
                       str(self.workers), "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "2",
                       "--timeout", "60"]
            if self.ipv6:
                command += ["--bind", f"[::1]:{self.port}"]
            if gunicorn_has_control_socket():
                command.append("--no-control-socket")
            return [("gunicorn", command)]
        commands = []
        hosts = [("127.0.0.1", self.workers)] + ([("::1", 1)] if self.ipv6 else [])
        for host, workers in hosts:
            commands.append((f"uvicorn {host}", [
                sys.executable, "-m", "uvicorn", "exampleproject.asgi:application", "--host", host, "--port",
                str(self.port), "--workers", str(workers), "--lifespan", "off", "--no-access-log",
                "--timeout-graceful-shutdown", "2"]))
        return commands

    def start(self) -> AppServer:
        env = example_env(self.settings)
        for name, command in self._commands():
            self.processes.append(Process(name, command, self.workdir / f"{name.replace(' ', '-')}.log",
                                          env=env, cwd=EXAMPLE))
        hosts = ["127.0.0.1", "::1"] if self.ipv6 else ["127.0.0.1"]
        for host in hosts:
            url = f"{self.base_url(host)}/healthz/"

            def healthy(url: str = url) -> bool:
                return httpx.get(url, timeout=2).status_code == 200

            for process in self.processes:
                wait_until(healthy, f"{self.kind} at {url}", process)
        return self

    def check_running(self) -> None:
        for process in self.processes:
            process.check_running()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes = []

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{tail(p.log)}" for p in self.processes)


# nginx -------------------------------------------------------------------------------------------

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
    server {{
        listen 127.0.0.1:{port};
        listen [::1]:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            # The app sees the proxy at this address (a trusted proxy), never the client's.
            proxy_bind {proxy_address};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


class Nginx:
    """Debian's nginx as a reverse proxy that appends the client to X-Forwarded-For."""

    def __init__(self, upstream_port: int, proxy_address: str, root: Path) -> None:
        self.port = free_dual_stack_port()
        self.root = root
        self.upstream_port = upstream_port
        self.proxy_address = proxy_address
        self.process: Process | None = None

    def base_url(self, host: str = "127.0.0.1") -> str:
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> Nginx:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o777)  # noqa: S103 - nginx's workers (nobody) write their temp files here
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        conf = self.root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=self.root, port=self.port, upstream=self.upstream_port,
                                          proxy_address=self.proxy_address, user=user))
        executable = program("nginx", "/usr/sbin/nginx")
        run([executable, "-t", "-p", str(self.root), "-c", str(conf)], "nginx -t")
        self.process = Process("nginx", [executable, "-p", str(self.root), "-c", str(conf)],
                               self.root / "nginx.out")
        url = f"{self.base_url()}/healthz/"
        wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, f"nginx at {url}", self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGQUIT)
            self.process = None


# A static page on another origin -----------------------------------------------------------------


class StaticSite:
    """A second loopback origin serving fixed pages, in a thread of the test process."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                status = 200 if body is not None else 404
                data = (body or "not found").encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="static-site", daemon=True)

    def start(self) -> StaticSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=STOP_TIMEOUT)


