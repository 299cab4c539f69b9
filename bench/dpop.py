"""DPoP's cost: the proof check per request, and the size of the ``jti`` store under load.

    python -m bench.dpop --out bench/results/dpop.json [--quick] [--redis-url redis://...]

Proof check: ``proofs.check`` (what the middleware adds to a steady header-session request:
``request_htu``, ``verify_proof``, the ``jti`` recorded with ``cache.add``) on prepared requests,
each with its own fresh proof by the client's one key (its header parsed once, as in a steady
session), for ES256 and EdDSA; also with a new key on every request (no header cache: what a
flood of one-off keys costs). Proofs are signed before the clock starts. The median over rounds
of the mean per call is reported, with the minimum round, next to the floor: the signature
verification alone (``cryptography``, the same key and message), which no implementation avoids.
``--clock cpu`` (the process's CPU time) is steadier than wall time on a shared machine.

``jti`` store: proofs sent at a fixed rate for a few windows of a short ``DPOP_IAT_LEEWAY`` into
the cache (Redis with ``--redis-url``, else LocMemCache without culling), counting the live
entries each second; the steady count is ``rate * (leeway + 1)`` (each entry lives until its
proof leaves the window, plus one second), so the same count for the default 60 s follows.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import django
from django.conf import settings

SECRET_KEY = "benchmark-secret-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
HOST = "api.example.com"
PATH = "/api/orders/"
GOAL_US = 150.0
FULL: dict[str, Any] = {"rounds": 15, "batch": 200, "cold_batch": 100, "rate": 500, "seconds": 9.0, "leeway": 2}
# A proof's iat is whole seconds (it may be up to 1 s old when made): the leeway must exceed 1 s.
QUICK: dict[str, Any] = {"rounds": 2, "batch": 10, "cold_batch": 5, "rate": 100, "seconds": 2.0, "leeway": 2}


def configure(redis_url: str | None, leeway: int) -> None:
    cache: dict[str, Any] = (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
        if redis_url
        # LocMemCache culls a third of its entries past MAX_ENTRIES (300 by default): a jti
        # store must never lose entries inside the window, so no culling here.
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10**9}}
    )
    settings.configure(
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS=[HOST],
        CACHES={"default": cache},
        INSTALLED_APPS=["django.contrib.sessions", "restricted_sessions"],
        DATABASES={},
        RESTRICTEDSESSIONS_DPOP="optional",
        RESTRICTEDSESSIONS_DPOP_IAT_LEEWAY=leeway,
    )
    django.setup()


class Signer:
    """Makes proofs for one key pair of ``alg`` (ES256 with P-256, EdDSA with Ed25519)."""

    def __init__(self, alg: str) -> None:
        from joserfc.jwk import ECKey, OKPKey

        self.alg = alg
        self.key: Any = ECKey.generate_key("P-256") if alg == "ES256" else OKPKey.generate_key("Ed25519")
        self.header = {"typ": "dpop+jwt", "alg": alg, "jwk": self.key.as_dict(private=False)}

    def proof(self, session_key: str, now: float) -> str:
        from joserfc import jws

        from restricted_sessions.dpop import access_token_hash

        claims = {
            "jti": secrets.token_urlsafe(16),
            "htm": "GET",
            "htu": f"http://{HOST}{PATH}",
            "iat": int(now),
            "ath": access_token_hash(session_key),
        }
        payload = json.dumps(claims, separators=(",", ":"))
        return jws.serialize_compact(self.header, payload, self.key, algorithms=[self.alg])


def request(proof: str, session_key: str) -> Any:
    from django.test import RequestFactory

    made = RequestFactory().get(PATH, HTTP_HOST=HOST, HTTP_DPOP=proof)
    # What SessionMiddleware leaves on a header session's request: all the check reads.
    made.session = SimpleNamespace(csrf_exempt=True, session_key=session_key)  # type: ignore[assignment]
    return made


CLOCKS = {"wall": time.perf_counter_ns, "cpu": time.process_time_ns}
clock_ns = time.perf_counter_ns


def signature_floor(alg: str, rounds: int, batch: int) -> dict[str, Any]:
    """Mean microseconds of the bare signature check of one proof (``JWSRegistry`` on ``cryptography``)."""
    from joserfc.jws import JWSRegistry
    from joserfc.util import urlsafe_b64decode

    signer = Signer(alg)
    header, claims, signature = signer.proof("k", time.time()).split(".")
    message, signature_bytes = f"{header}.{claims}".encode(), urlsafe_b64decode(signature.encode())
    verifier = JWSRegistry.algorithms[alg]
    per_call = []
    for _ in range(rounds):
        started = clock_ns()
        for _ in range(batch):
            verifier.verify(message, signature_bytes, signer.key)
        per_call.append((clock_ns() - started) / batch / 1000)
    return {
        "alg": alg,
        "key": "signature verify only",
        "median_us": statistics.median(per_call),
        "min_us": min(per_call),
        "calls": rounds * batch,
    }


def proof_check(alg: str, rounds: int, batch: int, *, new_key_each: bool) -> dict[str, Any]:
    """Mean microseconds per ``proofs.check`` call, per round; every call must accept its proof."""
    from restricted_sessions import proofs
    from restricted_sessions.conf import get_config

    config = get_config()
    session_key = secrets.token_hex(16)
    signer = Signer(alg)
    per_call = []
    for _ in range(rounds):
        now = time.time()
        signers = [Signer(alg) for _ in range(batch)] if new_key_each else [signer] * batch
        prepared = [request(s.proof(session_key, now), session_key) for s in signers]
        started = clock_ns()
        answers = [proofs.check(r, config) for r in prepared]
        elapsed = clock_ns() - started
        if any(answer is not None for answer in answers) or any(proofs.proof_key(r) is None for r in prepared):
            raise RuntimeError(f"{alg}: a valid proof was refused")
        per_call.append(elapsed / batch / 1000)
    return {
        "alg": alg,
        "key": "new key each request" if new_key_each else "one key (steady session)",
        "median_us": statistics.median(per_call),
        "min_us": min(per_call),
        "calls": rounds * batch,
    }


def live_entries(redis_url: str | None, prefix: str) -> int:
    from django.core.cache import cache

    if redis_url:
        client = cache._cache.get_client()  # type: ignore[attr-defined]
        return sum(1 for _ in client.scan_iter(match=f"*{prefix}*", count=1000))
    now = time.time()
    store = cache._expire_info  # type: ignore[attr-defined]
    return sum(1 for key, expires in store.items() if prefix in key and expires > now)


def jti_store(redis_url: str | None, rate: int, seconds: float, leeway: int) -> dict[str, Any]:
    """Record ``rate`` proofs per second for ``seconds``; the live entry count after each second."""
    from restricted_sessions.dpop import JtiStore, Proof

    store = JtiStore(prefix=f"bench.dpop.jti.{secrets.token_hex(4)}:")
    jkt = "x" * 43
    samples, started, sent = [], time.monotonic(), 0
    next_sample = started + 1
    while (elapsed := time.monotonic() - started) < seconds:
        while sent < rate * elapsed:
            now = time.time()
            if not store.use(Proof(jkt=jkt, jti=secrets.token_urlsafe(16), iat=now), leeway=leeway, now=now):
                raise RuntimeError("a fresh jti was refused")
            sent += 1
        if time.monotonic() >= next_sample:
            samples.append(live_entries(redis_url, store.prefix))
            next_sample += 1
        time.sleep(0.002)
    steady = samples[-1] if samples else 0
    return {
        "backend": "redis" if redis_url else "locmem",
        "rate": rate,
        "seconds": seconds,
        "leeway": leeway,
        "samples": samples,
        "steady_entries": steady,
        "bound": rate * (leeway + 2),
        "per_rate_per_second_of_window": steady / rate / (leeway + 1) if rate else 0,
        "default_window_entries_per_1000_rps": 1000 * (60 + 1),
        "sent": sent,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        f"DPoP proof check per request (proofs.check: htu, verify_proof, jti in the cache), {results['clock']} clock,"
        f" load average {results['load_average'][0]:.1f}"
    ]
    for row in results["proof_check"]:
        lines.append(
            f"  {row['alg']:6} {row['key']:26} median {row['median_us']:7.1f} us  min {row['min_us']:7.1f} us"
            f"  ({row['calls']} calls)"
        )
    store = results["jti_store"]
    lines.append(
        f"jti store ({store['backend']}): {store['rate']} proofs/s, leeway {store['leeway']} s: live entries per"
        f" second {store['samples']}; steady {store['steady_entries']} (bound rate*(leeway+2) = {store['bound']})"
    )
    per_1000 = store["default_window_entries_per_1000_rps"]
    lines.append(f"  at the default 60 s leeway: about {per_1000} entries per 1000 req/s")
    return "\n".join(lines)


def problems(results: dict[str, Any]) -> list[str]:
    found = [
        f"{row['alg']} steady proof check {row['median_us']:.1f} us > {GOAL_US:.0f} us"
        for row in results["proof_check"]
        if row["key"].startswith("one key") and row["median_us"] > GOAL_US
    ]
    store = results["jti_store"]
    if store["steady_entries"] > store["bound"]:
        found.append(f"jti store holds {store['steady_entries']} entries, more than {store['bound']}")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dpop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes")
    parser.add_argument("--redis-url", help="measure the jti store (and the proof check's cache.add) on Redis")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall", help="wall time, or the process's CPU time")
    options = parser.parse_args(argv)
    global clock_ns
    clock_ns = CLOCKS[options.clock]
    # joserfc marks "EdDSA" deprecated (RFC 9864) on every signature; the benchmark signs thousands.
    warnings.filterwarnings("ignore", message="EdDSA is deprecated")
    sizes = QUICK if options.quick else FULL
    configure(options.redis_url, sizes["leeway"])
    rows = []
    for alg in ("ES256", "EdDSA"):
        rows.append(proof_check(alg, sizes["rounds"], sizes["batch"], new_key_each=False))
        rows.append(proof_check(alg, max(1, sizes["rounds"] // 3), sizes["cold_batch"], new_key_each=True))
        rows.append(signature_floor(alg, sizes["rounds"], sizes["batch"]))
    results = {
        "proof_check": rows,
        "jti_store": jti_store(options.redis_url, sizes["rate"], sizes["seconds"], sizes["leeway"]),
        "goal_us": GOAL_US,
        "clock": options.clock,
        "load_average": os.getloadavg(),
        "smoke": options.quick,
    }
    results["problems"] = [] if options.quick else problems(results)
    options.out.write_text(json.dumps(results, indent=1))
    print(report(results))
    for problem in results["problems"]:
        print(f"PROBLEM dpop: {problem}", file=sys.stderr)
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
