"""Concurrent clients on real servers: requests per second and p50/p99 latency, 1 to 64 connections.

``python -m bench.concurrency --postgres URL --out FILE [--levels 1,2,4] [--seconds 2.5]`` (run by
``bench/run.py`` inside the benchmark's virtualenv, PostgreSQL already started on loopback).

The benchmark's site (``bench.serve``, db sessions in PostgreSQL) runs on gunicorn (2 sync workers)
and uvicorn (2 workers, async views), once per stack: Django alone, django-restricted-sessions
0.4 and restricted_sessions (full stack, defaults). All servers start first (through
``tests/loopback.py``); then for each number of connections the servers take turns in a shuffled
order, so that machine noise falls on all alike. Each connection is a client of its own that
sends the steady request (a logged-in session, the same User-Agent) back to back: over
keep-alive on uvicorn, a connection per request on gunicorn's sync workers (which close
every connection). A request's latency runs from sending (or connecting) to the last body byte.
The load generator is one asyncio process on the same 2 CPUs as the servers: it competes with
them alike for every stack, so compare the stacks, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from bench.environment import ROOT, log
from bench.stacks import CHROME
from tests.loopback import Process, ServerError, free_port, wait_until

SERVERS = ("gunicorn", "uvicorn")
STACK_NAMES = ("django", "seed-rs", "rs-full")
PATHS = {"gunicorn": ("/read", "/login"), "uvicorn": ("/aread", "/alogin")}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency")
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--levels", default="1,2,4,8,16,32,64")
    parser.add_argument("--seconds", type=float, default=2.5, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    return parser.parse_args(argv)


class Server:
    def __init__(self, kind: str, stack: str, options: argparse.Namespace) -> None:
        self.kind, self.stack = kind, stack
        self.port = free_port()
        self.log = Path(options.workdir) / f"{kind}-{stack}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.serve",
            "BENCH_STACK": stack,
            "BENCH_POSTGRES": options.postgres,
            "BENCH_HANDLER": "wsgi" if kind == "gunicorn" else "asgi",
            "PYTHONPATH": str(ROOT),
        }
        python, workers = sys.executable, str(options.workers)
        if kind == "gunicorn":
            self.command = [python, "-m", "gunicorn", "bench.serve:wsgi", "--workers", workers,
                            "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]  # fmt: skip
            if (
                "--no-control-socket"
                in subprocess.run([python, "-m", "gunicorn", "--help"], capture_output=True, text=True).stdout
            ):
                self.command.append("--no-control-socket")
        else:
            self.command = [python, "-m", "uvicorn", "bench.serve:asgi", "--workers", workers, "--host", "127.0.0.1",
                            "--port", str(self.port), "--lifespan", "off", "--no-access-log",
                            "--log-level", "warning"]  # fmt: skip
        self.process: Process | None = None
        self.cookie = ""

    def start(self) -> None:
        self.process = Process(f"{self.kind} {self.stack}", self.command, self.log, env=self.env, cwd=ROOT)
        wait_until(lambda: self.get("/anonymous")[0] == 200, f"{self.kind} {self.stack}", self.process)
        status, headers = self.get(PATHS[self.kind][1])
        morsel = SimpleCookie(headers.get("set-cookie", "")).get("sessionid")
        if status != 200 or morsel is None:
            raise ServerError(f"{self.kind} {self.stack}: login gave {status}")
        self.cookie = f"sessionid={morsel.value}"

    def get(self, path: str) -> tuple[int, dict[str, str]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", path, headers={"User-Agent": CHROME})
            response = connection.getresponse()
            response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()

    def check_running(self) -> None:
        if self.process is not None:
            self.process.check_running()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


async def read_chunked(reader: asyncio.StreamReader) -> None:
    """Read a chunked body (RFC 9112 section 7.1) to its end; trailers are not expected."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


async def connection_loop(port: int, request: bytes, stop_at: float, record_from: float, out: list[float],
                          statuses: dict[int, int]) -> None:  # fmt: skip
    reader = writer = None
    clock = time.perf_counter
    while (started := clock()) < stop_at:
        if writer is None or reader is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        closing = fields.get("connection", "").lower() == "close"
        if "content-length" in fields:
            await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            await read_chunked(reader)
        else:
            await reader.read()  # the body runs to the end of the connection
            closing = True
        if started >= record_from:
            out.append(clock() - started)
            statuses[status] = statuses.get(status, 0) + 1
        if closing:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def load(server: Server, connections: int, warmup: float, seconds: float) -> dict[str, Any]:
    path = PATHS[server.kind][0]
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {CHROME}\r\n"
               f"Cookie: {server.cookie}\r\n\r\n").encode()  # fmt: skip
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    now = time.perf_counter()
    record_from, stop_at = now + warmup, now + warmup + seconds
    await asyncio.gather(
        *(connection_loop(server.port, request, stop_at, record_from, latencies, statuses) for _ in range(connections))
    )
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "server": server.kind,
        "stack": server.stack,
        "connections": connections,
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def main(argv: list[str]) -> None:
    options = parse(argv)
    Path(options.workdir).mkdir(parents=True, exist_ok=True)
    stacks = [name for name in STACK_NAMES if options.seeds or not name.startswith("seed-")]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.serve", "BENCH_POSTGRES": options.postgres}
    subprocess.run([sys.executable, "-m", "django", "migrate", "--verbosity", "0"], check=True, cwd=ROOT, env=env)
    servers = [Server(kind, stack, options) for kind in SERVERS for stack in stacks]
    results = []
    try:
        for server in servers:
            server.start()
        log(f"concurrency: {len(servers)} servers up")
        shuffle = random.Random(17)  # noqa: S311 - an order, not a secret
        for connections in (int(n) for n in options.levels.split(",")):
            order = servers[:]
            shuffle.shuffle(order)
            for server in order:
                results.append(asyncio.run(load(server, connections, options.warmup, options.seconds)))
                server.check_running()
            log(f"concurrency: {connections} connections done")
    finally:
        for server in servers:
            server.stop()
    with open(options.out, "w") as out:
        json.dump(results, out, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
