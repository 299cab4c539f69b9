"""The measuring process, run by ``bench/run.py`` inside the benchmark's virtualenv.

``python -m bench.worker --out results.json [...]`` (from the repository root).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import sqlite3
import sys
import time
from importlib import metadata
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command

from bench import site
from bench.stacks import HANDLERS, STACKS


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("--out", required=True)
    parser.add_argument("--engines", default="db,signed_cookies")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--handlers", default=",".join(HANDLERS))
    parser.add_argument("--redis-url")
    parser.add_argument("--seeds", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batch", type=int, default=80)
    # An ASGI request costs several times a WSGI one (Django starts a thread per request).
    parser.add_argument("--asgi-batch", type=int, default=20)
    parser.add_argument("--counted", type=int, default=20)
    parser.add_argument("--micro-repeat", type=int, default=200)
    parser.add_argument("--scaling", default="1,10,100,1000")
    parser.add_argument("--scaling-total", type=int, default=600)
    parser.add_argument("--growth-rounds", type=int, default=12)
    parser.add_argument("--growth-batch", type=int, default=25)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves that everything runs")
    return parser.parse_args(argv)


def versions(seeds: bool) -> dict[str, str]:
    import restricted_sessions

    found = {
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "asgiref": metadata.version("asgiref"),
        "restricted_sessions": restricted_sessions.__version__,
        "SQLite": sqlite3.sqlite_version,
    }
    names = ["redis"] + (["django-restricted-sessions", "django-session-header", "netaddr"] if seeds else [])
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def main(argv: list[str]) -> None:
    options = parse(argv)
    engines = options.engines.split(",")
    if "cache" in engines and not options.redis_url:
        raise SystemExit("the cache engine is measured on Redis: pass --redis-url")
    settings.configure(**site.settings(options.redis_url))
    django.setup()
    # Keeps the shared in-memory database alive while Django's connections come and go.
    anchor = sqlite3.connect(site.DATABASE_URI, uri=True)
    call_command("migrate", verbosity=0)
    asyncio.set_event_loop(asyncio.new_event_loop())

    import restricted_sessions
    from bench import drivers, growth, matrix, micro, scaling

    drivers.use_clock(options.clock)
    stacks = [stack for stack in STACKS if options.seeds or not stack.seed]
    load_before = os.getloadavg()
    started = time.monotonic()
    results: dict[str, Any] = {
        "versions": versions(options.seeds),
        "library_path": os.path.dirname(restricted_sessions.__file__),
        "options": vars(options),
    }
    gc.collect()
    gc.freeze()
    results["requests"], results["head_to_head"] = matrix.run(
        stacks,
        engines,
        options.handlers.split(","),
        rounds=options.rounds,
        batch=options.batch,
        asgi_batch=options.asgi_batch,
        counted=options.counted,
    )
    results["micro"] = micro.run(options.micro_repeat, options.seeds)
    counts = tuple(int(n) for n in options.scaling.split(","))
    results["scaling"] = scaling.run(counts, options.scaling_total)
    results["growth"] = growth.run(options.smoke, options.growth_rounds, options.growth_batch)
    results["seconds"] = time.monotonic() - started
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    with open(options.out, "w") as out:
        json.dump(results, out, indent=1)
    anchor.close()


if __name__ == "__main__":
    main(sys.argv[1:])
