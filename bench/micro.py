"""The restriction check alone, on prepared inputs of a matching request, next to the seed's check.

Two paths: ``decide``, the engine's first look at a client (``binding.decide`` on the stored value
and the parsed address), and ``remembered``, what every later request of that client costs
(``enforcement``'s examination, from a request and the loaded session data, answered by the
configuration's memo). Each case is timed with ``timeit``: many repeats of a loop of calls; the
median of the repeats, per call, is reported.
"""

from __future__ import annotations

import importlib
import statistics
import timeit
from typing import Any

from django.http import HttpRequest
from django.test.utils import override_settings

from bench import drivers
from bench.stacks import CHROME, EVERY_OPTION, HUGE_UA

INPUTS = {
    "IPv4": ("203.0.113.7", CHROME),
    "IPv6": ("2001:db8:85a3::8a2e:370:7334", CHROME),
    "IPv4, 100 kB UA": ("203.0.113.7", HUGE_UA),
}
# What the middleware does for a matching request once the session is loaded: read the stored
# binding (one compact value) and decide.
STATEMENT = "decide(policy, policy.read(stored.get), Presented(current_ip, current_ua))"
# What the middleware does for every later request of the same client: the examination, from the
# request and the loaded session data (one memo lookup).
REMEMBERED_STATEMENT = 'examine(request, config, data.get, data.get("_auth_user_id"))'
SEED_STATEMENT = "middleware.validate_ip(request, ip) and middleware.validate_ua(request)"


def configs() -> dict[str, Any]:
    from restricted_sessions.conf import get_config

    default = get_config()
    with override_settings(**EVERY_OPTION):
        every = get_config()
    return {"default": default, "every option": every}


def _request(address: str, user_agent: str, proxied: bool) -> HttpRequest:
    """A request from ``address``: directly, or through the trusted proxy 10.1.2.3 (every option)."""
    request = HttpRequest()
    request.META = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": "".join(list(user_agent))}
    if proxied:
        request.META.update(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=address)
    return request


def _time(statement: str, namespace: dict[str, Any], repeat: int, target: float) -> dict[str, float]:
    timer = timeit.Timer(statement, timer=lambda: drivers.clock_ns() / 1e9, globals=namespace)
    once = timer.timeit(number=10) / 10
    number = max(1, int(target / max(once, 1e-9)))
    runs = [total / number for total in timer.repeat(repeat=repeat, number=number)]
    return {
        "median_ns": statistics.median(runs) * 1e9,
        "min_ns": min(runs) * 1e9,
        "calls": number * repeat,
    }


def run(repeat: int, seeds: bool, target: float = 0.004) -> list[dict[str, Any]]:
    from restricted_sessions import binding, enforcement
    from restricted_sessions.addresses import parse_ip

    results = []
    for policy_name, config in configs().items():
        policy = config.policy
        for input_name, (address, user_agent) in INPUTS.items():
            current_ip = parse_ip(address)
            stored = policy.new_binding(binding.Presented(current_ip, user_agent)).encode()
            namespace = {
                "decide": binding.decide,
                "Presented": binding.Presented,
                "policy": policy,
                "stored": {binding.BINDING_SESSION_KEY: stored},
                "current_ip": current_ip,
                # A copy, so that no identity shortcut can make the comparison cheaper.
                "current_ua": "".join(list(user_agent)),
                "examine": enforcement._decide,
                "request": _request(address, user_agent, proxied=policy_name != "default"),
                "config": config,
                "data": {"_auth_user_id": "1", binding.BINDING_SESSION_KEY: stored},
            }
            outcome = eval(STATEMENT, namespace)  # noqa: S307 - our own constant statement
            examination = eval(REMEMBERED_STATEMENT, namespace)  # noqa: S307 - our own constant statement
            for found in (outcome, examination.outcome):
                if found.reason is not None or found.save is not None:
                    raise RuntimeError(f"{policy_name}/{input_name}: not a matching request: {found}")
            for path, statement in (("decide", STATEMENT), ("remembered", REMEMBERED_STATEMENT)):
                results.append(
                    {
                        "implementation": "restricted_sessions",
                        "path": path,
                        "policy": policy_name,
                        "input": input_name,
                        "user_agent_bytes": len(user_agent),
                        **_time(statement, namespace, repeat, target),
                    }
                )
    if seeds:
        results.extend(_seed(repeat, target))
    return results


def _seed(repeat: int, target: float) -> list[dict[str, Any]]:
    """django-restricted-sessions 0.4: ``validate_ip`` and ``validate_ua`` on the same inputs."""
    seed = importlib.import_module("restrictedsessions.middleware")  # not typed
    middleware = seed.RestrictedSessionsMiddleware(lambda request: None)
    results = []
    for input_name, (address, user_agent) in INPUTS.items():
        request = HttpRequest()
        request.META = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": "".join(list(user_agent))}
        request.session = {seed.SESSION_IP_KEY: address, seed.SESSION_UA_KEY: user_agent}  # type: ignore[assignment]
        namespace = {"middleware": middleware, "request": request, "ip": address}
        if not eval(SEED_STATEMENT, namespace):  # noqa: S307 - our own constant statement
            raise RuntimeError(f"seed/{input_name}: not a matching request")
        results.append(
            {
                "implementation": "django-restricted-sessions 0.4",
                "path": "validate_ip + validate_ua",
                "policy": "default",
                "input": input_name,
                **_time(SEED_STATEMENT, namespace, repeat, target),
            }
        )
    return results
