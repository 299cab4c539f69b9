"""Benchmark restricted_sessions against Django's SessionMiddleware and the seed packages.

    python bench/run.py            # the published run: tables printed and docs/performance.rst
    python bench/run.py --redis    # also the cache engine, on a redis-server started on loopback
    python bench/run.py --quick    # smoke run (a few requests of everything; docs untouched)

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment, report

RESULTS = environment.ROOT / "bench" / "results"
DOCS_PAGE = environment.ROOT / "docs" / "performance.rst"

FULL = {
    "rounds": 20,
    "batch": 150,
    "asgi_batch": 40,
    "counted": 20,
    "micro_repeat": 200,
    "scaling": "1,10,100,1000",
    "scaling_total": 600,
}
QUICK = {
    "rounds": 2,
    "batch": 5,
    "asgi_batch": 3,
    "counted": 3,
    "micro_repeat": 5,
    "scaling": "1,10,100",
    "scaling_total": 10,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: a few requests of every configuration")
    parser.add_argument("--redis", action="store_true", help="also measure the cache engine on a local redis-server")
    parser.add_argument("--no-seeds", action="store_true", help="skip the seed packages (no PyPI install for them)")
    parser.add_argument(
        "--no-venv", action="store_true", help="measure in this Python (Django installed) instead of bench/.venv"
    )
    parser.add_argument("--python", default=sys.executable, help="the Python that bench/.venv is created with")
    parser.add_argument("--django", default=environment.DJANGO, help="Django requirement for bench/.venv")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (full run: 20)")
    parser.add_argument("--batch", type=int, help="requests per configuration and round (full run: 150)")
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
    sizes = dict(QUICK if options.quick else FULL)
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
    return arguments


def main(argv: list[str]) -> int:
    options = parse(argv)
    if options.no_venv:
        python = sys.executable
    else:
        python = str(
            environment.ensure_venv(
                options.python, django=options.django, seeds=not options.no_seeds, redis=options.redis
            )
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("quick.json" if options.quick else "latest.json")
    # The measuring process imports the library when it starts: that is the code measured.
    measured, fingerprint = commit(), library_fingerprint()
    redis = environment.start_redis() if options.redis else None
    try:
        arguments = worker_arguments(options, out, redis.url if redis else None)
        environment.log(f"measuring with {python}")
        subprocess.run([python, "-m", "bench.worker", *arguments], cwd=environment.ROOT, check=True)
        redis_version = redis.version() if redis else None
    finally:
        if redis is not None:
            redis.stop()
    data = json.loads(out.read_text())
    if redis_version:
        data["versions"]["redis-server"] = redis_version
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
    print(f"targets: {sum(t.passed for t in found)} PASS, {sum(not t.passed for t in found)} MISS")
    if options.docs or (options.docs is None and not options.quick):
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
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
