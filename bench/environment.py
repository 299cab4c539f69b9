"""What the benchmark needs outside Python's standard library: its virtualenv and a Redis server.

Standard library only: this module runs under whatever Python started ``bench/run.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv"
STAMP = VENV / "bench-stamp.json"

DJANGO = "Django>=5.2,<5.3"
REDIS_CLIENT = "redis>=5.0"
# The packages that restricted_sessions replaces, at the versions the issue measured.
SEED_RESTRICTED = "django-restricted-sessions==0.4.0"
# It pins Django<3.0: installed without its dependencies, on the benchmark's Django.
SEED_HEADER = "django-session-header==1.0"

REDIS_SERVER = "/usr/bin/redis-server"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def ensure_venv(python: str, *, django: str, seeds: bool, redis: bool) -> Path:
    """Create ``bench/.venv`` (once) and install what this run needs; returns its Python.

    The project is installed editable, so the benchmark always measures the working tree.
    Each step is recorded in a stamp file and skipped on later runs.
    """
    if not venv_python().exists():
        log(f"creating {VENV.relative_to(ROOT)} with {python}")
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    done: dict[str, str] = json.loads(STAMP.read_text()) if STAMP.exists() else {}
    steps = [("django", django, [django]), ("project", str(ROOT), ["--no-deps", "-e", str(ROOT)])]
    if redis:
        steps.append(("redis", REDIS_CLIENT, [REDIS_CLIENT]))
    if seeds:
        steps.append(("seed-restricted", SEED_RESTRICTED, [SEED_RESTRICTED]))
        steps.append(("seed-header", SEED_HEADER, ["--no-deps", SEED_HEADER]))
    for name, spec, arguments in steps:
        if done.get(name) == spec:
            continue
        log(f"installing {spec}")
        pip = [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *arguments], check=True)
        done[name] = spec
        STAMP.write_text(json.dumps(done, indent=2))
    return venv_python()


@dataclass
class RedisServer:
    """A throwaway redis-server on loopback, without persistence."""

    process: subprocess.Popen[bytes]
    port: int
    directory: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        out = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout
        return next((p[2:] for p in out.split() if p.startswith("v=")), out.strip())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis() -> RedisServer:
    """Start redis-server on a free loopback port and wait until it answers PING."""
    if not os.access(REDIS_SERVER, os.X_OK):
        raise SystemExit(f"--redis needs {REDIS_SERVER} (Debian: apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="bench-redis-")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    server = RedisServer(process, port, directory)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"redis-server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    log(f"redis-server {server.version()} on 127.0.0.1:{port} (pid {process.pid})")
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise SystemExit("redis-server did not answer within 15 s")
