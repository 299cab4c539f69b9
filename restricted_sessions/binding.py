"""The binding of a session to its client: what is stored, and whether a request still matches.

Pure code: a ``Policy`` holds the prepared settings, the functions take plain values, and nothing
here sees a request, a session or ``django.conf.settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.utils.crypto import salted_hmac

from restricted_sessions.addresses import IPAddress, Networks, network_identity, parse_ip
from restricted_sessions.useragents import DIGEST_PREFIX, EXACT, bounded, normalise

# The session keys of django-restricted-sessions 0.4, kept so that its sessions keep validating.
IP_SESSION_KEY = "_restrictedsessions_ip"
UA_SESSION_KEY = "_restrictedsessions_ua"
# With DUAL_STACK: the address of the other IP family, bound on its first use.
IP2_SESSION_KEY = "_restrictedsessions_ip2"

#: Stored values of the hashed store start with this.
HMAC_PREFIX = "$hmac$"

#: Which part of the binding changed.
REASON_IP = "ip"
REASON_UA = "ua"

# How many hashed forms a policy remembers before it starts afresh.
MEMO_SIZE = 4096

#: Marks a part of the binding that the session does not hold.
UNBOUND: Any = object()


def _prefixed_hmac(purpose: str, value: str, secret: str) -> str:
    return HMAC_PREFIX + _hmac(purpose, value, secret)


def _hmac(purpose: str, value: str, secret: str) -> str:
    # surrogatepass: like bounded(), accept any str, not only what WSGI and ASGI can deliver.
    data = value.encode("utf-8", "surrogatepass")
    return salted_hmac(f"restricted_sessions.{purpose}", data, secret=secret, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class Policy:
    """The binding rules, prepared once from the settings."""

    restrict_ip: bool = True
    restrict_ua: bool = True
    ipv4_length: int = 32
    ipv6_length: int = 64
    exempt_networks: Networks = ()
    ua_match: str = EXACT
    dual_stack: bool = False
    hashed: bool = False
    #: SECRET_KEY first, then SECRET_KEY_FALLBACKS: hashed values made with an old key still match.
    secrets: tuple[str, ...] = field(default=("",), repr=False)
    #: Hashed forms already computed, per address or User-Agent and secret (bounded).
    _hashed: dict[tuple[object, str], str] = field(default_factory=dict, compare=False, repr=False)

    def _remember(self, value: object, secret: str, compute: Callable[[], str]) -> str:
        try:
            return self._hashed[value, secret]
        except KeyError:
            if len(self._hashed) >= MEMO_SIZE:
                self._hashed.clear()
            hashed = self._hashed[value, secret] = compute()
            return hashed

    # What is stored ---------------------------------------------------------------------

    def ip_value(self, address: IPAddress | None) -> str:
        """The stored form of an address (``""`` for an unreadable one, which never matches)."""
        if address is None:
            return ""
        if not self.hashed:
            return str(address)
        return self._ip_hmac(address, self.secrets[0])

    def ua_value(self, user_agent: str | None) -> str:
        """The stored form of a User-Agent: bounded in size whatever the client sends."""
        key = normalise(user_agent or "", self.ua_match)
        return self._ua_hmac(user_agent or "", key, self.secrets[0]) if self.hashed else bounded(key)

    def _ua_hmac(self, user_agent: str, key: str, secret: str) -> str:
        compute = partial(_prefixed_hmac, "ua", bounded(key), secret)
        # Only short values are remembered, so junk cannot fill the memo with large strings.
        return self._remember(user_agent, secret, compute) if len(user_agent) <= 512 else compute()

    def _ip_hmac(self, address: IPAddress, secret: str) -> str:
        identity = network_identity(address, self.ipv4_length, self.ipv6_length, self.exempt_networks)
        # The family stays readable, for DUAL_STACK.
        return f"{HMAC_PREFIX}{address.version}${_hmac('ip', identity, secret)}"

    # Whether a request matches ----------------------------------------------------------

    def ip_matches(self, stored: object, current: IPAddress | None) -> bool:
        """True when ``current`` is in the stored address's network. Unreadable never matches."""
        if current is None or not isinstance(stored, str):
            return False
        if stored.startswith(HMAC_PREFIX):
            return any(
                stored == self._remember(current, secret, partial(self._ip_hmac, current, secret))
                for secret in self.secrets
            )
        stored_ip = parse_ip(stored)
        if stored_ip is None:
            return False
        if stored_ip == current:
            return True
        return network_identity(
            stored_ip, self.ipv4_length, self.ipv6_length, self.exempt_networks
        ) == network_identity(current, self.ipv4_length, self.ipv6_length, self.exempt_networks)

    def ua_matches(self, stored: object, current: str | None) -> bool:
        """True when the request's User-Agent is the bound one. A missing one never matches."""
        if not current or not isinstance(stored, str):
            return False
        key = normalise(current, self.ua_match)
        if stored.startswith(HMAC_PREFIX):
            return any(stored == self._ua_hmac(current, key, secret) for secret in self.secrets)
        if stored == bounded(key):
            return True
        # A value stored as it was (by 0.4, or under another UA_MATCH): compare it normalised.
        return not stored.startswith(DIGEST_PREFIX) and normalise(stored, self.ua_match) == key

    def is_current_form(self, stored: object) -> bool:
        """False for a value stored by the other STORE mode, which a valid request upgrades."""
        return isinstance(stored, str) and stored.startswith(HMAC_PREFIX) == self.hashed


def ip_family(stored: object) -> int | None:
    """The IP version of a stored address value, raw or hashed."""
    if not isinstance(stored, str):
        return None
    if stored.startswith(HMAC_PREFIX):
        family = stored[len(HMAC_PREFIX) : len(HMAC_PREFIX) + 1]
        return int(family) if family in ("4", "6") else None
    address = parse_ip(stored)
    return None if address is None else address.version


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: the changed part (or None) and the session values to write."""

    reason: str | None = None
    #: The session key of the bound value that no longer matches.
    key: str | None = None
    updates: dict[str, str] = field(default_factory=dict)


#: The usual outcome, shared: the request matches and nothing is written.
MATCH = Verdict()


def check(
    policy: Policy,
    *,
    stored_ip: object,
    stored_ip2: object,
    stored_ua: object,
    current_ip: IPAddress | None,
    current_ua: str | None,
) -> Verdict:
    """Compare a request with a session's binding. ``UNBOUND`` marks a part not stored."""
    updates: dict[str, str] = {}
    if policy.restrict_ip and stored_ip is not UNBOUND:
        key, stored = IP_SESSION_KEY, stored_ip
        matches = policy.ip_matches(stored, current_ip)
        if (
            not matches
            and policy.dual_stack
            and current_ip is not None
            and ip_family(stored_ip) not in (None, current_ip.version)
        ):
            # The other family of a dual-stack client: bound on its first use.
            key, stored = IP2_SESSION_KEY, stored_ip2
            if stored is UNBOUND:
                stored = updates[key] = policy.ip_value(current_ip)
            matches = policy.ip_matches(stored, current_ip)
        if not matches:
            return Verdict(REASON_IP, key)
        if not policy.is_current_form(stored):
            updates[key] = policy.ip_value(current_ip)
    if policy.restrict_ua and stored_ua is not UNBOUND:
        if not policy.ua_matches(stored_ua, current_ua):
            return Verdict(REASON_UA, UA_SESSION_KEY)
        if not policy.is_current_form(stored_ua):
            updates[UA_SESSION_KEY] = policy.ua_value(current_ua)
    return Verdict(updates=updates) if updates else MATCH
