"""Benchmark restricted_sessions against Django's SessionMiddleware and the seed packages.

    python bench/run.py            # the published run: tables, plots and docs/performance.rst
    python bench/run.py --redis    # also the cache engine in the request tables
    python bench/run.py --quick    # smoke run (tiny sizes of everything; docs untouched)

Runs under any Python 3.11+ (standard library only); the measuring happens in ``bench/.venv``,
which this script creates and fills on first use. See ``--help`` and docs/performance.rst.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment, report
from tests.loopback import PostgresServer, RedisServer, ServerError

RESULTS = environment.ROOT / "bench" / "results"
DOCS_PAGE = environment.ROOT / "docs" / "performance.rst"
PLOTS = environment.ROOT / "docs" / "_static" / "performance"

FULL = {
    "rounds": 40,
    # Each round runs a batch of every configuration and one of its baseline next to it.
    "batch": 50,
    "asgi_batch": 15,
    "counted": 20,
    "micro_repeat": 200,
    "scaling": "1,10,100,1000",
    "scaling_total": 600,
    "growth_rounds": 16,
    "growth_batch": 25,
    "stored_counts": "1,1000,10000,100000,1000000",
    "levels": "1,2,4,8,16,32,64",
    "seconds": 2.5,
}
QUICK = {
    "rounds": 2,
    "batch": 5,
    "asgi_batch": 3,
    "counted": 3,
    "micro_repeat": 5,
    "scaling": "1,10,100",
    "scaling_total": 10,
    "growth_rounds": 1,
    "growth_batch": 3,
    "stored_counts": "1,10,100",
    "levels": "1,4",
    "seconds": 0.3,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: a few requests of every configuration")
    parser.add_argument("--redis", action="store_true", help="also measure the cache engine in the request tables")
    parser.add_argument(
        "--no-servers",
        action="store_true",
        help="skip what needs PostgreSQL and real servers (stored sessions, concurrent clients)",
    )
    parser.add_argument("--no-seeds", action="store_true", help="skip the seed packages (no PyPI install for them)")
    parser.add_argument(
        "--no-venv", action="store_true", help="measure in this Python (Django installed) instead of bench/.venv"
    )
    parser.add_argument("--python", default=sys.executable, help="the Python that bench/.venv is created with")
    parser.add_argument("--django", default=environment.DJANGO, help="Django requirement for bench/.venv")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (full run: 40)")
    parser.add_argument("--batch", type=int, help="requests per configuration and round (full run: 50)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time (default), or the process's CPU time (steadier on a busy machine)",
    )
    parser.add_argument("--docs", action=argparse.BooleanOptionalAction, help="write docs/performance.rst")
    parser.add_argument("--note", help="a note for the docs page (for example: other work ran meanwhile)")
    return parser.parse_args(argv)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def commit() -> str:
    def git(*arguments: str) -> str:
        command = ["git", *arguments]
        result = subprocess.run(command, cwd=environment.ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    head = "commit " + (git("rev-parse", "--short", "HEAD") or "unknown")
    dirty = git("status", "--porcelain", "--", "restricted_sessions")
    return head + (" with uncommitted changes in restricted_sessions/" if dirty else "")


def library_fingerprint() -> str:
    """A digest of the library's source, to notice it changing while the benchmark runs."""
    digest = hashlib.sha256()
    for path in sorted((environment.ROOT / "restricted_sessions").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def without_note(argv: list[str]) -> list[str]:
    """The command line as shown on the page (the note is shown on its own)."""
    shown, skip = [], False
    for argument in argv:
        if skip or argument.startswith("--note="):
            skip = False
            continue
        skip = argument == "--note"
        if not skip:
            shown.append(argument)
    return shown


def worker_arguments(options: argparse.Namespace, out: Path, redis_url: str | None) -> list[str]:
    sizes = {k: v for k, v in (QUICK if options.quick else FULL).items() if k not in SERVER_SIZES}
    for name in ("rounds", "batch"):
        if getattr(options, name) is not None:
            sizes[name] = getattr(options, name)
    engines = ["db", "signed_cookies"] + (["cache"] if redis_url else [])
    arguments = ["--out", str(out), "--engines", ",".join(engines), "--no-seeds" if options.no_seeds else "--seeds"]
    arguments += ["--clock", options.clock]
    for name, value in sizes.items():
        arguments += ["--" + name.replace("_", "-"), str(value)]
    if redis_url:
        arguments += ["--redis-url", redis_url]
    if options.quick:
        arguments.append("--smoke")
    return arguments


SERVER_SIZES = ("stored_counts", "levels", "seconds")


def measure_servers(python: str, options: argparse.Namespace, redis: RedisServer) -> dict[str, Any]:
    """Stored sessions (PostgreSQL, Redis) and concurrent clients (gunicorn, uvicorn), each in a process."""
    sizes = QUICK if options.quick else FULL
    stored_out, concurrency_out = RESULTS / "stored.json", RESULTS / "concurrency.json"
    with PostgresServer(max_connections=100) as postgres:
        stored_url = postgres.create_database("bench_stored")
        serve_url = postgres.create_database("bench_serve")
        command = [python, "-m", "bench.stored", "--postgres", stored_url, "--redis", redis.url(1)]
        command += ["--counts", str(sizes["stored_counts"]), "--clock", options.clock, "--out", str(stored_out)]
        if options.quick:
            command += ["--rounds", "1", "--batch", "3"]
        subprocess.run(command, cwd=environment.ROOT, check=True)
        command = [python, "-m", "bench.concurrency", "--postgres", serve_url, "--out", str(concurrency_out)]
        command += ["--levels", str(sizes["levels"]), "--seconds", str(sizes["seconds"])]
        command += ["--workdir", str(postgres.root / "servers")] + (["--no-seeds"] if options.no_seeds else [])
        if options.quick:
            command += ["--warmup", "0.1"]
        subprocess.run(command, cwd=environment.ROOT, check=True)
        version = postgres.version()
    return {
        "stored": json.loads(stored_out.read_text()),
        "concurrency": json.loads(concurrency_out.read_text()),
        "postgresql": version,
    }


def main(argv: list[str]) -> int:
    options = parse(argv)
    if options.no_venv:
        python = sys.executable
    else:
        python = str(environment.ensure_venv(options.python, django=options.django, seeds=not options.no_seeds))
    environment.ensure_programs(postgres=not options.no_servers)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("quick.json" if options.quick else "latest.json")
    # The measuring process imports the library when it starts: that is the code measured.
    measured, fingerprint = commit(), library_fingerprint()
    try:
        with RedisServer() as redis:
            environment.log(f"redis-server {redis.version()} on {redis.url()}")
            arguments = worker_arguments(options, out, redis.url() if options.redis else None)
            environment.log(f"measuring with {python}")
            subprocess.run([python, "-m", "bench.worker", *arguments], cwd=environment.ROOT, check=True)
            dpop = [python, "-m", "bench.dpop", "--out", str(RESULTS / "dpop.json"), "--clock", options.clock]
            subprocess.run(
                dpop + ["--redis-url", redis.url(2)] + (["--quick"] if options.quick else []),
                cwd=environment.ROOT,
                check=False,
            )  # its goal problems are printed, not fatal
            servers = {} if options.no_servers else measure_servers(python, options, redis)
            redis_version = redis.version()
    except ServerError as error:
        raise SystemExit(f"a server the benchmark needs did not start: {error}") from error
    data = json.loads(out.read_text())
    data["versions"]["redis-server"] = redis_version
    if servers:
        data["versions"]["PostgreSQL"] = servers.pop("postgresql")
    data.update(servers)
    data["smoke"] = options.quick
    out.write_text(json.dumps(data, indent=1))
    write_docs = bool(options.docs or (options.docs is None and not options.quick))
    plots = PLOTS if write_docs else RESULTS / "plots"
    subprocess.run([python, "-m", "bench.plots", str(out), str(plots)], cwd=environment.ROOT, check=True)
    results = report.Results(data)
    meta = {
        "command": shlex.join(["python", "bench/run.py", *without_note(argv)]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "nproc": len(os.sched_getaffinity(0)),
        "commit": measured
        + ("" if library_fingerprint() == fingerprint else " (restricted_sessions/ changed during the run)"),
        "note": options.note,
    }
    text = report.page(results, meta)
    print(text)
    found = report.targets(results)
    print(report.summary(found))
    if write_docs:
        DOCS_PAGE.write_text(text, encoding="utf-8")
        environment.log(f"wrote {DOCS_PAGE.relative_to(environment.ROOT)}")
    problems = [
        f"{r['engine']}/{r['handler']}/{r['scenario']}/{r['stack']}: {p}"
        for r in data["requests"]
        for p in r["problems"]
    ]
    problems += [
        f"scaling {s['bound']}/{s['per_session']}/{s['stack']}: {s['problem']}" for s in data["scaling"] if s["problem"]
    ]
    problems += [
        f"concurrency {c['server']}/{c['stack']}/{c['connections']}: statuses {c['statuses']}"
        for c in data.get("concurrency", [])
        if set(c["statuses"]) != {"200"}
    ]
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
