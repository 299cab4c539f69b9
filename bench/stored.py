"""How a request's cost grows with the number of stored sessions: rows in PostgreSQL, keys in Redis.

``python -m bench.stored --postgres URL --redis URL --counts 1,1000,... --out FILE`` (run by
``bench/run.py`` inside the benchmark's virtualenv, with the servers it started on loopback).

For each count the store is filled up to it (PostgreSQL: one ``COPY`` of the missing rows, then
``ANALYZE``; Redis: pipelined ``SET ... EX`` in chunks), then the steady scenario runs under WSGI
for Django alone and our full stacks, interleaved in rounds, each with a session of its own among
the filler sessions. The filler sessions are never read: only their number matters.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import time

import django
from django.conf import settings

STACK_NAMES = ("django", "rs-full", "rs-full-all")
FILLER_DATA = "e30:1tFiller:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # never decoded
CHUNK = 20_000


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stored")
    parser.add_argument("--postgres", required=True, help="postgres://user@host:port/dbname")
    parser.add_argument("--redis", required=True, help="redis://host:port/db")
    parser.add_argument("--counts", default="1,1000,10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--out", required=True)
    return parser.parse_args(argv)


def fill_postgres(start: int, stop: int) -> None:
    from django.db import connection

    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=14)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's cursor: COPY is not in Django's API
        with raw.copy("COPY django_session (session_key, session_data, expire_date) FROM STDIN") as copy:
            for number in range(start, stop):
                copy.write_row((f"filler{number:026d}", FILLER_DATA, expiry))
        cursor.execute("ANALYZE django_session")


def fill_redis(url: str, start: int, stop: int) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for first in range(start, stop, CHUNK):
        pipe = client.pipeline(transaction=False)
        for number in range(first, min(stop, first + CHUNK)):
            # The key Django's cache engine stores a session under (KEY_PREFIX "", VERSION 1).
            pipe.set(f":1:django.contrib.sessions.cachefiller{number:026d}", FILLER_DATA, ex=3600)
        pipe.execute()


def stored_count(engine: str, url: str) -> int:
    if engine == "db":
        from django.contrib.sessions.models import Session

        return Session.objects.count()
    import redis

    return int(redis.Redis.from_url(url).dbsize())


def main(argv: list[str]) -> None:
    options = parse(argv)
    from bench import site

    django_settings = site.settings(options.redis)
    django_settings["DATABASES"] = {"default": site.database(options.postgres)}
    settings.configure(**django_settings)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from bench import drivers
    from bench.matrix import Config, build_handler, log, login
    from bench.stacks import PATHS, STACKS_BY_NAME, STEADY, Client

    drivers.use_clock(options.clock)
    counts = sorted(int(n) for n in options.counts.split(","))
    shuffle = random.Random(13)  # noqa: S311 - an order, not a secret
    results = []
    for engine in ("db", "cache"):
        filled = 0
        for count in counts:
            started = time.monotonic()
            if count > filled:
                if engine == "db":
                    fill_postgres(filled, count)
                else:
                    fill_redis(options.redis, filled, count)
                filled = count
            fill_seconds = time.monotonic() - started
            configs = []
            for name in STACK_NAMES:
                stack = STACKS_BY_NAME[name]
                config = Config(stack, engine, "wsgi", STEADY, build_handler(stack, engine, "wsgi"), Client())
                with config.settings():
                    login(config)
                configs.append(config)
            for _ in range(options.rounds):
                shuffle.shuffle(configs)
                for config in configs:
                    inputs = config.driver.prepare(PATHS[STEADY], config.client, options.batch)
                    with config.settings():
                        config.times.extend(config.driver.timed(inputs))
            stored = stored_count(engine, options.redis)
            for config in configs:
                results.append(
                    {
                        "engine": engine,
                        "store": "PostgreSQL" if engine == "db" else "Redis",
                        "stack": config.stack.name,
                        "sessions": count,
                        "stored": stored,
                        "requests": len(config.times),
                        "median_us": statistics.median(config.times) / 1000,
                        "fill_seconds": fill_seconds,
                    }
                )
            log(f"stored sessions: {engine}, {count} filled in {fill_seconds:.1f} s, measured")
    with open(options.out, "w") as out:
        json.dump(results, out, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
