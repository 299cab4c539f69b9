"""Real servers for the end-to-end tests, on loopback: started, waited for, always stopped.

Each class starts one kind of server from Debian's packages or the test virtualenv and raises
``ServerError`` with the reason (and the end of the server's log) when it cannot; the fixtures
turn that into a test failure, never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class ServerError(RuntimeError):
    """A server could not be installed, started or reached."""


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_dual_stack_port() -> int:
    """A port free on both 127.0.0.1 and ::1 (so one server can listen on both)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
                sock.bind(("::1", port))
        except OSError:
            continue
        return port
    raise ServerError("found no port free on both 127.0.0.1 and ::1")


def program(*candidates: str) -> str:
    """The first of ``candidates`` found (a name on PATH or in sbin, or a path glob)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    for candidate in candidates:
        if os.sep in candidate:
            matches = sorted(p for p in glob.glob(candidate) if os.access(p, os.X_OK))
            if matches:
                return matches[-1]
        elif found := shutil.which(candidate, path=search):
            return found
    raise ServerError(
        f"{' or '.join(candidates)} not found: run `python tests/provision.py e2e` "
        "(as root it installs the Debian packages)."
    )


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name: str, command: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            try:
                self.popen = subprocess.Popen(
                    list(command), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
                )
            except OSError as exc:
                raise ServerError(f"{name}: could not run {command[0]}: {exc}") from exc

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def check_running(self) -> None:
        if not self.running():
            raise ServerError(f"{self.name} exited with status {self.popen.returncode}:\n{tail(self.log)}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process and whatever it started (its process group)."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        else:
            self.popen.wait()
        # Workers left behind by a master that died first.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


def wait_until(ready: Callable[[], bool], what: str, process: Process | None = None,
               timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None:
            process.check_running()
        try:
            if ready():
                return
        except Exception as exc:
            last_error = exc
        time.sleep(0.1)
    log = f"\n{tail(process.log)}" if process is not None else ""
    raise ServerError(f"{what} not ready after {timeout:.0f} s (last error: {last_error!r}){log}")


def run(command: Sequence[str], what: str, **kwargs: Any) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=180, check=False, **kwargs)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise ServerError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return str(done.stdout)


# Redis -----------------------------------------------------------------------------------------


class RedisServer:
    """Debian's redis-server on a loopback port, without persistence; can be stopped and restarted."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: Process | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        executable = program("redis-server", "/usr/bin/redis-server")
        self.process = Process(
            "redis-server",
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--daemonize", "no"],
            self.workdir / "redis.log",
        )
        wait_until(self.ping, f"redis-server on port {self.port}", self.process)
        return self

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def client(self, db: int = 0) -> Any:
        import redis

        return redis.Redis.from_url(self.url(db))


# PostgreSQL ------------------------------------------------------------------------------------


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on 127.0.0.1 and a socket directory.

    PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user
    (created by Debian's package) and every server command runs through ``runuser``.
    """

    def __init__(self, port: int, root: Path) -> None:
        self.port = port
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.bindir: Path | None = None
        self.as_user: list[str] = []

    def start(self) -> PostgresServer:
        self.bindir = Path(program("/usr/lib/postgresql/*/bin/pg_ctl")).parent
        if os.geteuid() == 0:
            self.as_user = [program("runuser"), "-u", "postgres", "--"]
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o755)  # noqa: S103 - the postgres user's cluster, under root's temp dir
        run([*self.as_user, str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "--no-sync", "--encoding=UTF8", "--locale=C"], "initdb")
        options = (f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
             "-t", "60", "-o", options, "start"], f"pg_ctl start (log: {self.log})")
        wait_until(lambda: bool(self.query("SELECT 1")), f"PostgreSQL on port {self.port}")
        return self

    def stop(self) -> None:
        if self.bindir is not None and self.data.exists():
            subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, stdin=subprocess.DEVNULL, timeout=60, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def query(self, sql: str, params: Sequence[Any] = (), dbname: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname=dbname,
                             autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else [()]

    def create_database(self, name: str) -> str:
        self.query(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def terminate_backends(self, dbname: str) -> int:
        """pg_terminate_backend every connection to ``dbname``: the fault a failover or restart causes."""
        rows = self.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", [dbname])
        return sum(1 for (done,) in rows if done)


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


