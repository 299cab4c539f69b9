"""Server programs on loopback for the tests and the benchmark: start one, wait until it answers, stop it.

One launcher shared by the unit tests (Redis), the end-to-end suite (Redis, PostgreSQL, and the
helpers its app servers and nginx use) and ``bench/`` (Redis and PostgreSQL). Standard library
only, so that ``bench/run.py`` can use it under any Python 3.11+; ``PostgresServer.query`` imports
psycopg when called (the rest uses PostgreSQL's own client programs).

Every failure is a ``ServerError`` that says why, with the end of the server's log: the unit and
end-to-end fixtures turn it into a test failure (never a skip), the benchmark into an exit.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
LOOPBACK = "127.0.0.1"


class ServerError(RuntimeError):
    """A server could not be found, started or reached."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on ``host`` right now (the kernel's choice)."""
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
    """The first of ``candidates`` found: a name on PATH or in the sbin directories, or a path glob
    (the highest match, for versioned directories such as ``/usr/lib/postgresql/*/bin``)."""
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
    """The last ``lines`` lines of a log file, or ``(no log)``."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def run(command: Sequence[str], what: str, **kwargs: Any) -> str:
    """Run a command to completion (at most 180 s); its standard output, or ServerError."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=180, check=False, **kwargs
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise ServerError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return str(done.stdout)


class Process:
    """A child process in its own process group, its output appended to a log file."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            try:
                self.popen = subprocess.Popen(
                    list(command),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=dict(env) if env is not None else None,
                    cwd=cwd,
                    start_new_session=True,
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
        """Stop the process and whatever it started (its process group); SIGKILL after STOP_TIMEOUT."""
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


def wait_until(
    ready: Callable[[], bool], what: str, process: Process | None = None, timeout: float = START_TIMEOUT
) -> None:
    """Poll ``ready()`` every 0.1 s until it is true; ServerError when ``process`` exits or time runs out."""
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


class LoopbackServer:
    """A server program on a loopback port, with a directory of its own for its files and log.

    Subclasses give ``name``, ``command()`` and ``ready()``. ``start()`` returns once ``ready()``
    is true (ServerError otherwise, with the server stopped); ``stop()`` then ``start()`` again
    restarts it on the same port. Without ``workdir`` a temporary directory is made, and removed
    by ``stop()``. Usable as a context manager.
    """

    name = "server"

    def __init__(self, workdir: Path | None = None, *, port: int | None = None, timeout: float = START_TIMEOUT):
        self.owns_workdir = workdir is None
        self.workdir = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix=f"loopback-{self.name}-"))
        self.port = port if port is not None else free_port()
        self.timeout = timeout
        self.process: Process | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = Process(self.name, self.command(), self.workdir / f"{self.name}.log")
        try:
            wait_until(self.ready, f"{self.name} on {LOOPBACK}:{self.port}", self.process, self.timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class RedisServer(LoopbackServer):
    """Debian's redis-server on 127.0.0.1, without persistence (``--save ""``, no AOF)."""

    name = "redis-server"

    def command(self) -> list[str]:
        executable = program("redis-server", "/usr/bin/redis-server")
        return [
            executable,
            "--port",
            str(self.port),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
        ]

    def ready(self) -> bool:
        return self.ping()

    def ping(self) -> bool:
        """True when the server answers PING (RESP inline command, no client library)."""
        with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def url(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def version(self) -> str:
        """The server's version, such as ``7.0.15``."""
        out = run([program("redis-server", "/usr/bin/redis-server"), "--version"], "redis-server --version")
        return next((part[2:] for part in out.split() if part.startswith("v=")), out.strip())

    def client(self, db: int = 0) -> Any:
        """A redis-py client of database ``db`` (needs the ``redis`` package)."""
        import redis

        return redis.Redis.from_url(self.url(db))


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on 127.0.0.1 and a socket directory in ``root``.

    Tuned for tests, not durability (fsync, synchronous_commit and full_page_writes off).
    PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user
    (created by Debian's package) and every server command runs through ``runuser``. ``stop()``
    removes ``root``.
    """

    def __init__(self, port: int | None = None, root: Path | None = None, *, max_connections: int = 60) -> None:
        self.port = port if port is not None else free_port()
        self.root = root if root is not None else Path(tempfile.mkdtemp(prefix="loopback-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.max_connections = max_connections
        self.bindir: Path | None = None
        self.as_user: list[str] = []

    def start(self) -> Self:
        self.bindir = Path(program("/usr/lib/postgresql/*/bin/pg_ctl")).parent
        if os.geteuid() == 0:
            self.as_user = [program("runuser"), "-u", "postgres", "--"]
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o755)  # noqa: S103 - the postgres user's cluster, under root's temp dir
        run(
            [
                *self.as_user,
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ],
            "initdb",
        )
        options = (
            f"-k {self.root} -p {self.port} -c listen_addresses={LOOPBACK} -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}"
        )
        run(
            [
                *self.as_user,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            f"pg_ctl start (log: {self.log})",
        )
        wait_until(self.ready, f"PostgreSQL on port {self.port}")
        return self

    def stop(self) -> None:
        if self.bindir is not None and self.data.exists():
            subprocess.run(
                [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def client_program(self, name: str) -> str:
        """A client program of the server's version (``pg_isready``, ``createdb``...)."""
        bindir = self.bindir or Path(program("/usr/lib/postgresql/*/bin/pg_ctl")).parent
        return str(bindir / name)

    def ready(self) -> bool:
        """True when the server accepts connections (``pg_isready``, no client library)."""
        command = [self.client_program("pg_isready"), "-q", "-h", str(self.root), "-p", str(self.port)]
        return subprocess.run(command, stdin=subprocess.DEVNULL, check=False, timeout=10).returncode == 0

    def version(self) -> str:
        """The server's version, such as ``15.18``: ``postgres (PostgreSQL) 15.18 (Debian ...)``."""
        return run([self.client_program("postgres"), "--version"], "postgres --version").split()[2]

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@{LOOPBACK}:{self.port}/{dbname}"

    def query(self, sql: str, params: Sequence[Any] = (), dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement over the socket directory (needs psycopg); its rows, or ``[()]``."""
        import psycopg

        with psycopg.connect(
            host=str(self.root), port=self.port, user="postgres", dbname=dbname, autocommit=True, connect_timeout=5
        ) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else [()]

    def create_database(self, name: str) -> str:
        """Create the database ``name`` (``createdb``, no client library); its URL."""
        command = [self.client_program("createdb"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres"]
        run([*command, name], f"createdb {name}")
        return self.url(name)

    def terminate_backends(self, dbname: str) -> int:
        """pg_terminate_backend every connection to ``dbname``: the fault a failover or restart causes."""
        rows = self.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [dbname],
        )
        return sum(1 for (done,) in rows if done)
