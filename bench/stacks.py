"""What is compared: middleware stacks, session engines, handlers, scenarios and clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DJANGO_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
RS_SESSIONS = "restricted_sessions.middleware.SessionMiddleware"
RS_RESTRICTION = "restricted_sessions.middleware.RestrictedSessionsMiddleware"
SEED_RESTRICTION = "restrictedsessions.middleware.RestrictedSessionsMiddleware"
SEED_HEADER_SESSIONS = "django_session_header.middleware.SessionMiddleware"

# Every option of the production issue switched on (REPORT_ONLY stays off: it would not enforce).
EVERY_OPTION: dict[str, Any] = {
    "RESTRICTEDSESSIONS_TRUSTED_PROXIES": ["10.0.0.0/8"],
    "RESTRICTEDSESSIONS_UA_MATCH": "ignore_versions",
    "RESTRICTEDSESSIONS_IP_EXEMPT_NETWORKS": ["198.51.100.0/24"],
    "RESTRICTEDSESSIONS_DUAL_STACK": True,
    "RESTRICTEDSESSIONS_STORE": "hashed",
    "RESTRICTEDSESSIONS_REPORT_ONLY": False,
}


@dataclass(frozen=True)
class Stack:
    name: str
    label: str
    middleware: tuple[str, ...]
    client: str  # "cookie" or "header": how the client sends its session key
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    seed: bool = False
    # The session starts with the binding data that restricted_sessions would store (a control).
    padded: bool = False


BASELINE = "django"
#: The Django-alone stack each stack is compared with: the one run in the same settings.
BASELINES = {"rs-full-all": "django-all"}
STACKS = (
    Stack(BASELINE, "Django SessionMiddleware (baseline)", (DJANGO_SESSIONS,), "cookie"),
    Stack(
        "django-padded",
        "Django SessionMiddleware, session holding a binding's data",
        (DJANGO_SESSIONS,),
        "cookie",
        padded=True,
    ),
    Stack(
        "django-layer",
        "Django SessionMiddleware and a do-nothing middleware (control: one more layer)",
        (DJANGO_SESSIONS, "bench.site.PassThroughMiddleware"),
        "cookie",
    ),
    Stack("rs-cookie", "rs SessionMiddleware, cookie client", (RS_SESSIONS,), "cookie"),
    Stack("rs-header", "rs SessionMiddleware, header client", (RS_SESSIONS,), "header"),
    Stack("rs-full", "rs Session + Restricted, defaults", (RS_SESSIONS, RS_RESTRICTION), "cookie"),
    Stack(
        "rs-full-all",
        "rs Session + Restricted, every option",
        (RS_SESSIONS, RS_RESTRICTION),
        "cookie",
        settings=EVERY_OPTION,
    ),
    # Django alone under the every-option settings (which it never reads): the baseline that
    # rs-full-all is interleaved with request by request, in the same settings.
    Stack(
        "django-all",
        "Django SessionMiddleware, every-option settings in force (baseline of rs-full-all)",
        (DJANGO_SESSIONS,),
        "cookie",
        settings=EVERY_OPTION,
    ),
    Stack(
        "seed-rs",
        "django-restricted-sessions 0.4",
        (DJANGO_SESSIONS, SEED_RESTRICTION),
        "cookie",
        seed=True,
    ),
    Stack(
        "seed-sh",
        "django-session-header 1.0, header client",
        (SEED_HEADER_SESSIONS,),
        "header",
        seed=True,
    ),
    Stack(
        "seed-both",
        "both seed packages, header client",
        (SEED_HEADER_SESSIONS, SEED_RESTRICTION),
        "header",
        seed=True,
    ),
)
STACKS_BY_NAME = {stack.name: stack for stack in STACKS}

ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
    "cache": "django.contrib.sessions.backends.cache",
}
HANDLERS = ("wsgi", "asgi")

STEADY = "steady"
ANONYMOUS = "anonymous"
FIRST = "first"
SCENARIOS = (STEADY, ANONYMOUS, FIRST)
# Path of the view per scenario; the ASGI handler serves the async twin ("a" + path).
PATHS = {STEADY: "read", ANONYMOUS: "anonymous", FIRST: "login"}
PADDED_LOGIN = "login_padded"


def runs_scenario(stack: Stack, scenario: str) -> bool:
    """Without a key, the header client of our middleware sends what the cookie client sends."""
    if stack.name == "django-layer":
        return scenario != FIRST  # a control of the per-request cost of a layer
    return scenario == STEADY or not (stack.name == "rs-header" or stack.padded)


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
# A 100 kB User-Agent (a client may send anything; the binding must stay bounded).
HUGE_UA = CHROME + " " + "X" * (100_000 - len(CHROME) - 1)


@dataclass
class Client:
    """One client: its address as the server sees it, its User-Agent, and its session key."""

    remote_addr: str = "10.1.2.3"
    # A trusted proxy (10.0.0.0/8 with every option on) forwarded for this client.
    forwarded_for: str | None = "203.0.113.7"
    user_agent: str = CHROME
    mode: str = "cookie"
    key: str | None = None

    def headers(self) -> list[tuple[str, str]]:
        """The request headers, as (name, value) in HTTP form."""
        headers = [("host", "testserver"), ("user-agent", self.user_agent)]
        if self.forwarded_for is not None:
            headers.append(("x-forwarded-for", self.forwarded_for))
        if self.key is not None:
            if self.mode == "header":
                headers.append(("x-sessionid", self.key))
            else:
                headers.append(("cookie", f"sessionid={self.key}"))
        return headers
