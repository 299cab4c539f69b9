"""The library's settings: one validated, typed, immutable ``Config`` built from ``RESTRICTEDSESSIONS_*``.

``get_config()`` builds the object on first use and keeps it until a setting changes (Django's
``setting_changed`` signal, sent by ``override_settings``), so the hot path pays one function call
and nothing is ever written into Django's settings. ``problems()`` is the one validation: the
system checks report it, and ``get_config()`` raises ``ImproperlyConfigured`` on its first error,
so a misconfiguration stops start-up instead of weakening the protection.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore as SignedCookieStore
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from restricted_sessions.addresses import DEFAULT_MAX_PROXY_HOPS, AddressRules, max_proxy_hops_problems
from restricted_sessions.binding import Policy
from restricted_sessions.dbsc import conf as dbsc_conf
from restricted_sessions.keys import meta_key
from restricted_sessions.networks import DEFAULT_NAT64_PREFIXES, nat64_problems, network_entry_problems
from restricted_sessions.useragents import MATCH_MODES

__all__ = ["DEFAULTS", "PREFIX", "Config", "Problem", "get_config", "problems"]

PREFIX = "RESTRICTEDSESSIONS_"

DEFAULTS: dict[str, Any] = {
    "SESSION_HEADER": "X-SessionID",
    "RESTRICT_IP": True,
    "RESTRICT_UA": True,
    "REMOTE_ADDR_KEY": "REMOTE_ADDR",
    "IPV4_LENGTH": 32,
    "IPV6_LENGTH": 64,
    "REDIRECT_VIEW": None,
    "FAILURE_STATUS": 400,
    "AUTHED_ONLY": False,
    "TRUSTED_PROXIES": [],
    "MAX_PROXY_HOPS": DEFAULT_MAX_PROXY_HOPS,
    "NAT64_PREFIXES": list(DEFAULT_NAT64_PREFIXES),
    "UA_MATCH": "exact",
    "IP_EXEMPT_NETWORKS": [],
    "DUAL_STACK": False,
    "REPORT_ONLY": False,
    "FAILURE_HANDLER": None,
    "STORE": "raw",
    "CACHE": "default",
    "DPOP": "off",
    "DPOP_ALGORITHMS": ["ES256", "EdDSA"],
    "DPOP_IAT_LEEWAY": 60,
    "DPOP_NONCE": False,
    "DPOP_RESTRICT_IP": True,
    **dbsc_conf.DEFAULTS,
}

STORE_MODES = ("raw", "hashed")
BOOLEANS = ("RESTRICT_IP", "RESTRICT_UA", "AUTHED_ONLY", "DUAL_STACK", "REPORT_ONLY", "DPOP_NONCE", "DPOP_RESTRICT_IP")
#: DPOP: off; "optional": a session started or logged into with a valid proof is bound to its key;
#: "required": every header session must present proofs.
DPOP_MODES = ("off", "optional", "required")
# The proof rate that a culling cache's MAX_ENTRIES must hold for a DPoP window (E026): more
# than a site verifies (each proof costs about 0.1 ms of CPU), so flooding cannot cull a record.
JTI_RECORDS_PER_SECOND = 100_000
#: The asymmetric algorithms ``restricted_sessions.dpop`` verifies (RFC 7518 3.4, RFC 8037 3.1).
DPOP_SUPPORTED_ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA", "Ed25519")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Header names (lower case) a browser sends by itself: the Fetch standard's forbidden request-header
#: names, the CORS-safelisted ones, and the headers browsers add on their own (cached HTTP
#: credentials in Authorization included). A session header must be one that only a script sends,
#: for the CSRF exemption of header sessions rests on a browser never adding it by itself (E007).
BROWSER_HEADERS = frozenset(
    (
        # Fetch standard, "forbidden request-header".
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        # CORS-safelisted request headers: a page of another origin sends them, with values of its
        # choosing, without a preflight.
        "accept",
        "accept-language",
        "content-language",
        "content-type",
        "range",
        # Sent by browsers on their own.
        "authorization",
        "user-agent",
        "cache-control",
        "pragma",
        "upgrade-insecure-requests",
        "priority",
        "purpose",
        "service-worker",
        "service-worker-navigation-preload",
        "last-event-id",
        "x-moz",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        # Client hints, which browsers send once a site asks for them.
        "device-memory",
        "downlink",
        "dpr",
        "ect",
        "rtt",
        "save-data",
        "viewport-width",
        "width",
    )
)
#: The Fetch standard forbids every request-header name with these prefixes.
BROWSER_HEADER_PREFIXES = ("proxy-", "sec-")
#: Headers that Django (from WSGI and ASGI alike) puts in request.META without the HTTP_ prefix.
UNPREFIXED_HEADERS = frozenset(("content-type", "content-length"))
SESSION_HEADER_HINT = "Use 'X-SessionID' (the default), or None to turn header sessions off."


def raw_settings() -> dict[str, Any]:
    """Every library setting as the site wrote it, defaults filled in."""
    return {name: getattr(settings, PREFIX + name, default) for name, default in DEFAULTS.items()}


@dataclass(frozen=True)
class Problem:
    """One finding of ``problems()``: a system check message in plain data."""

    setting: str
    message: str
    hint: str
    id: str
    #: Errors stop start-up; warnings are only reported by ``manage.py check``.
    serious: bool = True


def _is_int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def problems(values: dict[str, Any]) -> list[Problem]:
    """Every setting in ``values`` (as from ``raw_settings()``) that cannot work, with its fix."""
    found: list[Problem] = []

    def error(name: str, problem: str, hint: str, check_id: str) -> None:
        found.append(Problem(name, f"{PREFIX}{name} {problem}.", hint, f"restricted_sessions.{check_id}"))

    for name in BOOLEANS:
        if not isinstance(values[name], bool):
            error(name, f"must be True or False, not {values[name]!r}", "Set it to a boolean.", "E001")
    if not _is_int_in(values["IPV4_LENGTH"], 0, 32):
        problem = f"must be an integer from 0 to 32, not {values['IPV4_LENGTH']!r}"
        error("IPV4_LENGTH", problem, "Use 32 to bind to the exact IPv4 address, 24 for its /24 network.", "E002")
    if not _is_int_in(values["IPV6_LENGTH"], 0, 128):
        problem = f"must be an integer from 0 to 128, not {values['IPV6_LENGTH']!r}"
        error("IPV6_LENGTH", problem, "Use 64 (the default) to bind to the client's /64 network.", "E003")
    if not _is_int_in(values["FAILURE_STATUS"], 100, 599):
        problem = f"must be an HTTP status code from 100 to 599, not {values['FAILURE_STATUS']!r}"
        error("FAILURE_STATUS", problem, "Use 400 (the default), 401 or 403.", "E004")
    redirect_view = values["REDIRECT_VIEW"]
    if redirect_view is not None and not (isinstance(redirect_view, str) and redirect_view):
        problem = f"must be a URL name or None, not {redirect_view!r}"
        error("REDIRECT_VIEW", problem, "Name a URL pattern, for example 'login'.", "E005")
    remote_addr_key = values["REMOTE_ADDR_KEY"]
    if not (isinstance(remote_addr_key, str) and remote_addr_key):
        problem = f"must name a request.META key, not {remote_addr_key!r}"
        hint = "Use 'REMOTE_ADDR' (the default) or, behind a proxy, 'HTTP_X_FORWARDED_FOR'."
        error("REMOTE_ADDR_KEY", problem, hint, "E006")
    elif remote_addr_key != "REMOTE_ADDR" and not values["TRUSTED_PROXIES"]:
        found.append(
            Problem(
                "REMOTE_ADDR_KEY",
                f"{PREFIX}REMOTE_ADDR_KEY is {remote_addr_key!r} but {PREFIX}TRUSTED_PROXIES is "
                "empty: the first address of a forwarding header is chosen by the client.",
                "List your proxies' addresses or networks in TRUSTED_PROXIES.",
                "restricted_sessions.W001",
                serious=False,
            )
        )
    header_problem = _session_header_problem(values["SESSION_HEADER"])
    if header_problem is not None:
        error("SESSION_HEADER", *header_problem, "E007")
    hint = "Use entries such as '10.0.0.0/8', '192.0.2.1' or '2001:db8::/32'."
    for name, check_id in (("TRUSTED_PROXIES", "E011"), ("IP_EXEMPT_NETWORKS", "E012")):
        for entry in network_entry_problems(values[name], values["NAT64_PREFIXES"]):
            message = f"{PREFIX}{name}: {entry.problem}."
            found.append(Problem(name, message, entry.fix or hint, f"restricted_sessions.{check_id}"))
    for nat64_problem in nat64_problems(values["NAT64_PREFIXES"]):
        hint = "List IPv6 prefixes of length 32, 40, 48, 56, 64 or 96 (RFC 6052), the defaults included."
        found.append(
            Problem("NAT64_PREFIXES", f"{PREFIX}NAT64_PREFIXES: {nat64_problem}.", hint, "restricted_sessions.E023")
        )
    for hops_problem in max_proxy_hops_problems(values["MAX_PROXY_HOPS"]):
        hint = "Use 10 (the default), or the number of proxies in front of your servers."
        found.append(
            Problem("MAX_PROXY_HOPS", f"{PREFIX}MAX_PROXY_HOPS: {hops_problem}.", hint, "restricted_sessions.E024")
        )
    if values["UA_MATCH"] not in MATCH_MODES:
        problem = f"must be one of {MATCH_MODES}, not {values['UA_MATCH']!r}"
        error("UA_MATCH", problem, "Use 'ignore_versions' to keep sessions across browser updates.", "E013")
    if values["STORE"] not in STORE_MODES:
        problem = f"must be one of {STORE_MODES}, not {values['STORE']!r}"
        error("STORE", problem, "Use 'hashed' to keep IP addresses and User-Agents out of the session store.", "E014")
    if _failure_handler_problem(values["FAILURE_HANDLER"]):
        problem = f"{values['FAILURE_HANDLER']!r} is not the dotted path of a callable that can be imported"
        hint = "Name a function taking (request, reason) and returning an HttpResponse, or None."
        error("FAILURE_HANDLER", problem, hint, "E015")
    if not (isinstance(values["CACHE"], str) and values["CACHE"] in settings.CACHES):
        problem = f"must name an entry of CACHES, not {values['CACHE']!r}"
        error("CACHE", problem, "Use 'default', or the alias of a cache that all your servers share.", "E016")
    for name, problem in dbsc_conf.problems(values):
        error(name, problem, "See the DBSC settings in the settings reference.", "E018")
    if values["DBSC"] is True and not _importable("joserfc"):
        error(
            "DBSC",
            "needs the JOSE library joserfc, which is not installed",
            'pip install "restricted_sessions[dbsc]"',
            "E019",
        )
    if values["DBSC"] is True and _signed_cookie_engine(settings.SESSION_ENGINE):
        problem = (
            f"cannot work with SESSION_ENGINE {settings.SESSION_ENGINE!r}, whose sessions live in signed "
            "cookies: they cannot forget a used challenge, nor the device key at logout, so a copy of the "
            "login response's cookie, signed before registration, would stay valid without the bound cookie"
        )
        hint = f"Use a server-side session engine (db, cached_db, cache, file) with DBSC, or set {PREFIX}DBSC = False."
        error("DBSC", problem, hint, "E027")
    if values["DPOP"] not in DPOP_MODES:
        problem = f"must be one of {DPOP_MODES}, not {values['DPOP']!r}"
        error("DPOP", problem, "Use 'optional' to bind the sessions of clients that present DPoP proofs.", "E020")
    elif values["DPOP"] != "off" and not _importable("joserfc"):
        problem = "needs the JOSE library joserfc, which is not installed"
        error("DPOP", problem, 'pip install "restricted_sessions[dpop]"', "E019")
    algorithms = values["DPOP_ALGORITHMS"]
    if (
        not isinstance(algorithms, list | tuple)
        or not algorithms
        or any(algorithm not in DPOP_SUPPORTED_ALGORITHMS for algorithm in algorithms)
    ):
        problem = f"must be a non-empty list drawn from {DPOP_SUPPORTED_ALGORITHMS}, not {algorithms!r}"
        error("DPOP_ALGORITHMS", problem, "Use ['ES256', 'EdDSA'] (the default).", "E021")
    if not _is_int_in(values["DPOP_IAT_LEEWAY"], 1, 3600):
        problem = f"must be an integer from 1 to 3600 (seconds), not {values['DPOP_IAT_LEEWAY']!r}"
        error("DPOP_IAT_LEEWAY", problem, "Use 60 (the default): proofs older or newer than that are refused.", "E022")
    if values["DPOP"] in DPOP_MODES and values["DPOP"] != "off":
        replay = _replay_store_problem(values)
        if replay is not None:
            error("CACHE", *replay, "E026")
    return found


def _session_header_problem(header: Any) -> tuple[str, str] | None:
    """Why ``header`` cannot name the session header, with the fix; None when it can (or is None)."""
    if header is None:
        return None
    if not (isinstance(header, str) and HEADER_NAME.fullmatch(header)):
        return f"must be an HTTP header name or None, not {header!r}", SESSION_HEADER_HINT
    if "_" in header:
        dashed = header.replace("_", "-")
        return (
            f"must not contain an underscore, not {header!r}: WSGI servers and nginx drop such headers, so "
            "header sessions would pass Django's test Client and never work in production",
            f"Use {dashed!r}, 'X-SessionID' (the default), or None to turn header sessions off.",
        )
    name = header.lower()
    if name in BROWSER_HEADERS or name.startswith(BROWSER_HEADER_PREFIXES):
        unprefixed = (
            f", and Django reads it as {name.upper().replace('-', '_')}, not as an HTTP_ header"
            if name in UNPREFIXED_HEADERS
            else ""
        )
        return (
            f"must name a header that only scripts send, not {header!r}, which browsers send by themselves"
            f"{unprefixed}: header sessions skip the CSRF check because a browser never adds their header "
            "on its own",
            "Use 'X-SessionID' (the default) or another name of your own such as 'X-Session-Token', or None "
            "to turn header sessions off.",
        )
    return None


def _replay_store_problem(values: dict[str, Any]) -> tuple[str, str] | None:
    """Why the cache cannot hold each DPoP proof's ``jti`` for its window, with the fix; else None.

    A cache that stores nothing, or that culls by count (Django's local-memory, file and database
    caches: a third of their entries past ``MAX_ENTRIES``, 300 by default), lets a client flush the
    record of a captured proof by sending proofs of its own, which makes that proof usable again.
    """
    alias = values["CACHE"]
    cache = settings.CACHES.get(alias) if isinstance(alias, str) else None
    if not isinstance(cache, dict):
        return None  # E016 names the alias
    try:
        backend = import_string(str(cache.get("BACKEND", "")))
    except Exception:
        return None  # Django reports a broken BACKEND when it builds the cache
    if not isinstance(backend, type):
        return None
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.filebased import FileBasedCache
    from django.core.cache.backends.locmem import LocMemCache

    if issubclass(backend, DummyCache):
        return f"names {alias!r}, a DummyCache, which stores nothing: every DPoP proof could be used again", (
            "Name a cache that all your servers share, such as Redis or Memcached."
        )
    if not issubclass(backend, LocMemCache | FileBasedCache | DatabaseCache):
        return None
    options = cache.get("OPTIONS") or {}
    max_entries = options.get("MAX_ENTRIES", 300) if isinstance(options, dict) else 300
    leeway = values["DPOP_IAT_LEEWAY"] if _is_int_in(values["DPOP_IAT_LEEWAY"], 1, 3600) else 60
    least = JTI_RECORDS_PER_SECOND * (leeway + 1)
    try:
        # As BaseCache reads it.
        if int(max_entries) >= least:
            return None
    except (TypeError, ValueError):
        pass
    return (
        f"names {alias!r}, a {backend.__name__} that culls past MAX_ENTRIES ({max_entries!r}) entries: a client "
        "that sends that many DPoP proofs within DPOP_IAT_LEEWAY makes a captured proof usable again",
        f"Use a shared cache that does not cull (Redis, Memcached), or set CACHES[{alias!r}]['OPTIONS']"
        f"['MAX_ENTRIES'] to at least {least} ({JTI_RECORDS_PER_SECOND} proofs a second for "
        "DPOP_IAT_LEEWAY + 1 seconds).",
    )


def _signed_cookie_engine(engine: Any) -> bool:
    """True when the SESSION_ENGINE ``engine`` keeps sessions in signed cookies (a subclass counts)."""
    try:
        store = import_string(f"{engine}.SessionStore")
    except Exception:
        return False  # Django reports an engine that does not import when it loads it
    return isinstance(store, type) and issubclass(store, SignedCookieStore)


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _failure_handler_problem(path: Any) -> bool:
    if path is None:
        return False
    try:
        handler = import_string(path) if isinstance(path, str) else None
    except Exception:
        # Any import-time failure of the named module is a misconfiguration, not only ImportError.
        handler = None
    return not callable(handler)


@dataclass(frozen=True, slots=True)
class Config:
    """The validated settings, in the forms the hot path uses. Built by ``get_config()``."""

    session_header: str | None
    #: The ``request.META`` key of ``session_header`` (``HTTP_X_SESSIONID``), or None.
    session_header_meta_key: str | None
    remote_addr_key: str
    #: The META key of the header that trusted proxies append the client address to.
    forwarded_for_key: str
    #: The address rules (normalisation, trusted proxies, exempt networks, hop limit), prepared.
    addresses: AddressRules
    redirect_view: str | None
    failure_status: int
    failure_handler: Callable[..., Any] | None
    authed_only: bool
    report_only: bool
    hashed: bool
    cache_alias: str
    policy: Policy
    session_cookie_name: str
    save_every_request: bool
    dbsc: dbsc_conf.DbscSettings
    #: "off", "optional" or "required" (RESTRICTEDSESSIONS_DPOP).
    dpop_mode: str
    dpop_algorithms: tuple[str, ...]
    #: Seconds a proof's ``iat`` may lie before or after the server's clock.
    dpop_iat_leeway: int
    dpop_nonce: bool
    #: False for the signed_cookies engine, whose sessions live in the cookie itself.
    server_side_store: bool
    auth_installed: bool
    #: The examinations of matching requests, by what the request and its session presented
    #: (``enforcement``'s memo, bounded). Starts empty with each configuration, also one made by
    #: ``dataclasses.replace`` (not an init field), so a memo never outlives its settings.
    matches: dict[tuple[object, ...], Any] = field(default_factory=dict, init=False, compare=False, repr=False)
    #: Whether ``matches`` alone may answer a request: no DPoP proof and no DBSC bound cookie to
    #: verify on each request (``enforcement.remembered``).
    remembers_matches: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "remembers_matches", self.dpop_mode == "off" and not self.dbsc.enabled)

    @classmethod
    def from_settings(cls) -> Config:
        """Validate the settings and build the configuration; ``ImproperlyConfigured`` on an error."""
        values = raw_settings()
        for problem in problems(values):
            if problem.serious:
                raise ImproperlyConfigured(f"{problem.message} {problem.hint} ({problem.id})")
        header = values["SESSION_HEADER"]
        remote_addr_key = values["REMOTE_ADDR_KEY"]
        addresses = AddressRules(
            trusted_proxies=values["TRUSTED_PROXIES"],
            exempt_networks=values["IP_EXEMPT_NETWORKS"],
            nat64_prefixes=values["NAT64_PREFIXES"],
            max_proxy_hops=values["MAX_PROXY_HOPS"],
        )
        handler = values["FAILURE_HANDLER"]
        return cls(
            session_header=header or None,
            session_header_meta_key=meta_key(header) if header else None,
            remote_addr_key=remote_addr_key,
            forwarded_for_key="HTTP_X_FORWARDED_FOR" if remote_addr_key == "REMOTE_ADDR" else remote_addr_key,
            addresses=addresses,
            redirect_view=values["REDIRECT_VIEW"],
            failure_status=values["FAILURE_STATUS"],
            failure_handler=import_string(handler) if handler else None,
            authed_only=values["AUTHED_ONLY"],
            report_only=values["REPORT_ONLY"],
            hashed=values["STORE"] == "hashed",
            cache_alias=values["CACHE"],
            policy=Policy(
                restrict_ip=values["RESTRICT_IP"],
                restrict_ua=values["RESTRICT_UA"],
                ipv4_length=values["IPV4_LENGTH"],
                ipv6_length=values["IPV6_LENGTH"],
                addresses=addresses,
                ua_match=values["UA_MATCH"],
                dual_stack=values["DUAL_STACK"],
                hashed=values["STORE"] == "hashed",
                secrets=(settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())),
                device_restrict_ip=values["DBSC_RESTRICT_IP"],
                bind_proof_key=values["DPOP"] != "off",
                proof_key_restrict_ip=values["DPOP_RESTRICT_IP"],
            ),
            dbsc=dbsc_conf.build(values),
            dpop_mode=values["DPOP"],
            dpop_algorithms=tuple(values["DPOP_ALGORITHMS"]),
            dpop_iat_leeway=values["DPOP_IAT_LEEWAY"],
            dpop_nonce=values["DPOP_NONCE"],
            session_cookie_name=str(settings.SESSION_COOKIE_NAME),
            save_every_request=bool(settings.SESSION_SAVE_EVERY_REQUEST),
            server_side_store=not issubclass(
                import_string(f"{settings.SESSION_ENGINE}.SessionStore"), SignedCookieStore
            ),
            auth_installed=apps.is_installed("django.contrib.auth"),
        )


_config: Config | None = None


def get_config() -> Config:
    """The current configuration (built once; rebuilt after a setting changes)."""
    global _config
    if _config is None:
        _config = Config.from_settings()
    return _config


def _forget(*, setting: str, **kwargs: Any) -> None:
    global _config
    if setting.startswith((PREFIX, "SECRET_KEY", "SESSION_", "CACHES", "INSTALLED_APPS")):
        _config = None


setting_changed.connect(_forget, dispatch_uid="restricted_sessions.conf")
