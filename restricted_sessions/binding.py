"""The binding of a session to its client, and the one decision about each request.

Pure code: a ``Policy`` holds the prepared settings, ``decide()`` compares what a request presents
with what its session stores, and nothing here sees a request, a session or Django's settings.

Stored forms. Since 1.1 a binding is one short string under ``BINDING_SESSION_KEY``::

    "1|<ip>|<ip2>|<ua>"

``ip``/``ip2`` (``ip2``: the other address family, with DUAL_STACK) are an address (``10.0.0.1``),
``?`` (bound while the address was unreadable: never matches) or ``#4``/``#6`` and a keyed digest
(STORE="hashed"); ``ua`` is ``~`` and a SHA-256 digest of the normalised User-Agent, or ``#`` and a
keyed digest. Digests are the first 128 bits, base64url. An empty field is a part not bound. The
keys of 1.0 and of django-restricted-sessions 0.4 (``IP_SESSION_KEY``...) are still read; they are
rewritten in the compact form when the session is saved anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from typing import Any

from django.utils.crypto import salted_hmac

from restricted_sessions.addresses import AddressRules, IPAddress, parse_ip
from restricted_sessions.useragents import DIGEST_PREFIX, EXACT, MAX_STORED_LENGTH, bounded, normalise

__all__ = [
    "BINDING_SESSION_KEY",
    "IP2_SESSION_KEY",
    "IP_SESSION_KEY",
    "LEGACY_SESSION_KEYS",
    "MATCH",
    "REASON_DBSC",
    "REASON_DPOP",
    "REASON_IP",
    "REASON_UA",
    "UA_SESSION_KEY",
    "UNBOUND",
    "Binding",
    "Outcome",
    "Policy",
    "Presented",
    "decide",
]

#: The session key of the binding (1.1 and later).
BINDING_SESSION_KEY = "_restrictedsessions"
# The session keys of django-restricted-sessions 0.4 and of 1.0, still read.
IP_SESSION_KEY = "_restrictedsessions_ip"
UA_SESSION_KEY = "_restrictedsessions_ua"
IP2_SESSION_KEY = "_restrictedsessions_ip2"
LEGACY_SESSION_KEYS = (IP_SESSION_KEY, IP2_SESSION_KEY, UA_SESSION_KEY)

#: Which part of the binding changed.
REASON_IP = "ip"
REASON_UA = "ua"
#: A device-bound session (DBSC) presented without its valid bound cookie.
REASON_DBSC = "dbsc"
#: A session bound to a DPoP key presented no valid proof by that key.
REASON_DPOP = "dpop"

#: Marks a part of the binding that the session does not hold.
UNBOUND: Any = type("Unbound", (), {"__repr__": lambda self: "UNBOUND"})()

FORMAT_VERSION = "1"
SEPARATOR = "|"
#: A stored part that no request matches (an address that was unreadable when bound).
NEVER = "?"
HASHED_MARK = "#"
UA_DIGEST_MARK = "~"
# 1.0's hashed forms: "$hmac$4$<hex>" for an address, "$hmac$<hex>" for a User-Agent.
LEGACY_HMAC_PREFIX = "$hmac$"
# A compact binding is short; anything longer is not one of ours and never parsed.
MAX_BINDING_LENGTH = 200
# How many hashed forms a policy remembers before it starts afresh.
MEMO_SIZE = 4096
DIGEST_BYTES = 16


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest[:DIGEST_BYTES]).rstrip(b"=").decode("ascii")


def _hmac(purpose: str, value: str, secret: str) -> bytes:
    # The salts and messages are those of 1.0, so that its hashed values convert (pinned by tests).
    # surrogatepass: accept any str, not only what WSGI and ASGI can deliver.
    data = value.encode("utf-8", "surrogatepass")
    return salted_hmac(f"restricted_sessions.{purpose}", data, secret=secret, algorithm="sha256").digest()


def _ua_digest(key: str) -> str:
    """``~`` and the digest of a normalised User-Agent (1.0's ``$sha256$`` form, shortened)."""
    # Only short values are remembered, so junk cannot fill the cache with large strings.
    return _short_ua_digest(key) if len(key) <= MAX_STORED_LENGTH else _compute_ua_digest(key)


def _compute_ua_digest(key: str) -> str:
    return UA_DIGEST_MARK + _b64(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest())


_short_ua_digest = lru_cache(maxsize=1024)(_compute_ua_digest)


class Match(Enum):
    """How a stored part compares with the request."""

    NO = 0
    YES = 1
    #: Matches only through a key of SECRET_KEY_FALLBACKS: rewrite it with SECRET_KEY now.
    STALE = 2


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request presents about its client."""

    #: The client address (normalised), or None when it is not a readable IP address.
    ip: IPAddress | None
    #: The User-Agent header, or None when the request sent none.
    user_agent: str | None
    #: False when a device-bound session's request lacks a valid, unexpired bound cookie (DBSC).
    device_proof: bool = True
    #: The RFC 7638 thumbprint of the key of the request's valid DPoP proof, or None.
    jkt: str | None = None


@dataclass(frozen=True, slots=True)
class Binding:
    """What a session stores about its client: each part a stored form, or ``UNBOUND``."""

    ip: object = UNBOUND
    ip2: object = UNBOUND
    ua: object = UNBOUND
    #: The RFC 7638 thumbprint of the DPoP key the session is bound to.
    jkt: object = UNBOUND
    #: True when read from the keys of 1.0 / 0.4, which the next save rewrites.
    legacy: bool = False
    #: The session registered a device key (DBSC); kept by the DBSC module, not in the compact form.
    device: bool = False

    @property
    def is_empty(self) -> bool:
        return self.ip is UNBOUND and self.ip2 is UNBOUND and self.ua is UNBOUND and self.jkt is UNBOUND

    def encode(self) -> str:
        """The compact stored form. Every part must already be a compact token."""
        parts = [self.ip, self.ip2, self.ua] + ([] if self.jkt is UNBOUND else [self.jkt])
        return SEPARATOR.join((FORMAT_VERSION, *("" if part is UNBOUND else str(part) for part in parts)))


EMPTY = Binding()


@lru_cache(maxsize=4096)
def _parse(value: str) -> Binding:
    fields = value.split(SEPARATOR)
    if len(fields) not in (4, 5) or fields[0] != FORMAT_VERSION:
        # Not a binding this version wrote: bound to nothing that can match.
        return Binding(ip=NEVER, ua=NEVER)
    ip, ip2, ua, *jkt = (field_ or UNBOUND for field_ in fields[1:])
    return Binding(ip, ip2, ua, jkt[0] if jkt else UNBOUND)


def parse(value: object) -> Binding:
    """The binding a stored compact value holds; a value of any other shape matches nothing."""
    if not isinstance(value, str) or len(value) > MAX_BINDING_LENGTH:
        return Binding(ip=NEVER, ua=NEVER)
    return _parse(value)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision about one request: a match, or the part that changed."""

    #: ``REASON_IP`` or ``REASON_UA`` when a bound part changed; None when the request matches.
    reason: str | None = None
    #: The stored form of the part that changed.
    stored: object = None
    #: What the request presented for it: the address or User-Agent as text, or None.
    current: str | None = None
    #: A binding to save now (a second address family bound on first use, or a part that matched
    #: only through SECRET_KEY_FALLBACKS), or None.
    save: Binding | None = None


#: The usual outcome, shared: the request matches and nothing is written.
MATCH = Outcome()


@dataclass(frozen=True)
class Policy:
    """The binding rules, prepared once from the settings."""

    restrict_ip: bool = True
    restrict_ua: bool = True
    ipv4_length: int = 32
    ipv6_length: int = 64
    #: Address normalisation and exempt networks (``addresses.AddressRules``).
    addresses: AddressRules = field(default_factory=AddressRules)
    ua_match: str = EXACT
    dual_stack: bool = False
    hashed: bool = False
    #: SECRET_KEY first, then SECRET_KEY_FALLBACKS: hashed values made with an old key still match.
    secrets: tuple[str, ...] = field(default=("",), repr=False)
    #: Whether a device-bound session (DBSC) still gets the IP check.
    device_restrict_ip: bool = True
    #: Bind sessions saved with a valid DPoP proof to its key (DPOP is not "off").
    bind_proof_key: bool = False
    #: Whether a session bound to a DPoP key still gets the IP check.
    proof_key_restrict_ip: bool = True
    #: Hashed forms already computed, per (purpose, value, secret) (bounded).
    _memo: dict[tuple[str, object, str], str] = field(default_factory=dict, compare=False, repr=False)

    def _keyed(self, purpose: str, value: str, secret: str, memo_key: object) -> str:
        try:
            return self._memo[purpose, memo_key, secret]
        except KeyError:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            digest = self._memo[purpose, memo_key, secret] = _b64(_hmac(purpose, value, secret))
            return digest

    def _identity(self, address: IPAddress) -> str:
        return self.addresses.identity(address, self.ipv4_length, self.ipv6_length)

    def _ip_hmac(self, address: IPAddress, secret: str) -> str:
        return self._keyed("ip", self._identity(address), secret, address)

    def _ua_key(self, user_agent: str | None) -> str:
        return normalise(user_agent or "", self.ua_match)

    def _ua_hmac(self, user_agent: str | None, secret: str) -> str:
        message = bounded(self._ua_key(user_agent))
        # Only short values are remembered, so junk cannot fill the memo with large strings.
        if user_agent is not None and len(user_agent) > MAX_STORED_LENGTH:
            return _b64(_hmac("ua", message, secret))
        return self._keyed("ua", message, secret, user_agent)

    # What is stored ---------------------------------------------------------------------

    def ip_token(self, address: IPAddress | None) -> str:
        """The stored form of an address (``?`` for an unreadable one, which never matches)."""
        if address is None:
            return NEVER
        if not self.hashed:
            return str(address)
        return f"{HASHED_MARK}{address.version}{self._ip_hmac(address, self.secrets[0])}"

    def ua_token(self, user_agent: str | None) -> str:
        """The stored form of a User-Agent (None and ``""``: bound to sending none)."""
        if self.hashed:
            return HASHED_MARK + self._ua_hmac(user_agent, self.secrets[0])
        return _ua_digest(self._ua_key(user_agent))

    def new_binding(self, presented: Presented) -> Binding:
        """The binding for a session that holds none, from the request that first saves it."""
        return Binding(
            ip=self.ip_token(presented.ip) if self.restrict_ip else UNBOUND,
            ua=self.ua_token(presented.user_agent) if self.restrict_ua else UNBOUND,
        )

    def read(self, get: Callable[[str, Any], Any]) -> Binding:
        """The binding a session holds, from its ``get(key, default)``, in the compact form.

        The keys of 1.0 and 0.4 are converted as they are read (their digests are the same HMACs
        and SHA-256 digests, shortened), so the rest of the library knows one form only.
        """
        value = get(BINDING_SESSION_KEY, UNBOUND)
        if value is not UNBOUND:
            return parse(value)
        ip, ip2, ua = (get(key, UNBOUND) for key in LEGACY_SESSION_KEYS)
        if ip is UNBOUND and ip2 is UNBOUND and ua is UNBOUND:
            return EMPTY
        # 0.4 stored None for a request without a User-Agent.
        ua = "" if ua is None else ua
        return Binding(_legacy_ip(ip), _legacy_ip(ip2), _legacy_ua(ua, self.ua_match), legacy=True)

    def to_save(self, binding: Binding, presented: Presented, *, bind_proof_key: bool = True) -> Binding | None:
        """The binding to write when a session that matched ``presented`` is saved anyway.

        Binds the parts the settings restrict but the session does not hold yet, and rewrites
        the parts stored in the other STORE mode (the request matched every bound part, so its
        own values are an equivalent binding) and bindings read from 1.0's keys. The DPoP key of
        ``presented`` is bound only when ``bind_proof_key`` (the caller's word that this save starts
        the session or logs it in: RFC 9449 keys are bound when the session is, never later by
        whoever shows a proof). None when the stored binding is already current.
        """
        binding = replace(binding, device=False)
        ip, ip2, ua = binding.ip, binding.ip2, binding.ua
        current = presented.ip
        if self.restrict_ip:
            if ip is UNBOUND or (
                current is not None and _family(ip) == current.version and not self._is_current_form(ip)
            ):
                ip = self.ip_token(current)
            elif current is not None and _family(ip2) == current.version and not self._is_current_form(ip2):
                ip2 = self.ip_token(current)
        if self.restrict_ua and (ua is UNBOUND or not self._is_current_form(ua)):
            ua = self.ua_token(presented.user_agent)
        jkt = binding.jkt
        if self.bind_proof_key and bind_proof_key and jkt is UNBOUND and presented.jkt is not None:
            jkt = presented.jkt
        new = Binding(ip, ip2, ua, jkt)
        return None if new == binding or new.is_empty else new

    def _is_current_form(self, stored: object) -> bool:
        return isinstance(stored, str) and (stored.startswith(HASHED_MARK) == self.hashed or stored == NEVER)

    # Whether a request matches ----------------------------------------------------------

    def match_ip(self, stored: object, current: IPAddress | None) -> Match:
        """Whether ``current`` is in the stored address's network. Unreadable never matches."""
        if current is None or not isinstance(stored, str):
            return Match.NO
        if stored.startswith(HASHED_MARK):
            if stored[1:2] != str(current.version):
                return Match.NO
            digest = stored[2:]
            return self._secret_match(lambda secret: self._ip_hmac(current, secret) == digest)
        stored_ip = parse_ip(stored)
        if stored_ip is None:
            return Match.NO
        if stored_ip == current or self._identity(stored_ip) == self._identity(current):
            return Match.YES
        return Match.NO

    def match_ua(self, stored: object, current: str | None) -> Match:
        """Whether the request's User-Agent is the bound one; a missing one is ``""``."""
        if not isinstance(stored, str):
            return Match.NO
        if stored.startswith(HASHED_MARK):
            digest = stored[1:]
            return self._secret_match(lambda secret: self._ua_hmac(current, secret) == digest)
        if stored.startswith(UA_DIGEST_MARK) and hmac.compare_digest(stored, _ua_digest(self._ua_key(current))):
            return Match.YES
        return Match.NO

    def ip_matches(self, stored: object, current: IPAddress | None) -> bool:
        """Whether a stored address part in any form (compact, 1.0's, 0.4's) matches ``current``."""
        token = stored if isinstance(stored, str) and stored.startswith(HASHED_MARK) else _legacy_ip(stored)
        return self.match_ip(token, current) is not Match.NO

    def ua_matches(self, stored: object, current: str | None) -> bool:
        """Whether a stored User-Agent part in any form (compact, 1.0's, 0.4's) matches ``current``."""
        compact = isinstance(stored, str) and stored.startswith((HASHED_MARK, UA_DIGEST_MARK))
        token = stored if compact else _legacy_ua("" if stored is None else stored, self.ua_match)
        return self.match_ua(token, current) is not Match.NO

    def _secret_match(self, matches: Callable[[str], bool]) -> Match:
        for index, secret in enumerate(self.secrets):
            if matches(secret):
                return Match.YES if index == 0 else Match.STALE
        return Match.NO


def _legacy_ip(stored: object) -> object:
    """An address part of 1.0 or 0.4 in the compact form: ``$hmac$4$<hex>`` shortened."""
    if stored is UNBOUND:
        return UNBOUND
    if not isinstance(stored, str):
        return NEVER
    if stored.startswith(LEGACY_HMAC_PREFIX):
        family, _, hexdigest = stored[len(LEGACY_HMAC_PREFIX) :].partition("$")
        digest = _from_hex(hexdigest)
        return NEVER if family not in ("4", "6") or digest is None else f"{HASHED_MARK}{family}{_b64(digest)}"
    address = parse_ip(stored)
    return NEVER if address is None else str(address)


def _legacy_ua(stored: object, mode: str) -> object:
    """A User-Agent part of 1.0 or 0.4 in the compact form."""
    if stored is UNBOUND:
        return UNBOUND
    if not isinstance(stored, str):
        return NEVER
    if stored.startswith((LEGACY_HMAC_PREFIX, DIGEST_PREFIX)):
        hashed = stored.startswith(LEGACY_HMAC_PREFIX)
        digest = _from_hex(stored[len(LEGACY_HMAC_PREFIX if hashed else DIGEST_PREFIX) :])
        if digest is None:
            return NEVER
        return (HASHED_MARK if hashed else UA_DIGEST_MARK) + _b64(digest)
    # A User-Agent stored as it was: the digest of its normalised form, as requests are compared.
    return _ua_digest(normalise(stored, mode))


def _from_hex(value: str) -> bytes | None:
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        return None
    return digest if len(digest) == hashlib.sha256().digest_size else None


def _family(stored: object) -> int | None:
    """The IP version of a stored address part."""
    if not isinstance(stored, str):
        return None
    if stored.startswith(HASHED_MARK):
        marker = stored[1:2]
        return int(marker) if marker in ("4", "6") else None
    address = parse_ip(stored)
    return None if address is None else address.version


def decide(policy: Policy, binding: Binding, presented: Presented, *, bind_other_family: bool = True) -> Outcome:
    """Compare what a request presents with its session's binding.

    A device-bound session (DBSC) is checked for its bound cookie first, and for its address only
    while ``device_restrict_ip``. With DUAL_STACK an address of the other family than the bound one
    is compared with the second bound address; while there is none, it is bound on first use (``Outcome.save``) unless
    ``bind_other_family`` is False (a WebSocket ticket checks both families strictly).
    """
    if binding.device and not presented.device_proof:
        # First: a copied cookie without the device's bound cookie is refused whatever else it shows.
        return Outcome(REASON_DBSC)
    if policy.bind_proof_key and binding.jkt is not UNBOUND and presented.jkt != binding.jkt:
        return Outcome(REASON_DPOP, binding.jkt, presented.jkt)
    save: Binding | None = None
    if (
        policy.restrict_ip
        and binding.ip is not UNBOUND
        and (policy.device_restrict_ip or not binding.device)
        and (policy.proof_key_restrict_ip or not policy.bind_proof_key or binding.jkt is UNBOUND)
    ):
        stored, part = binding.ip, "ip"
        found = policy.match_ip(stored, presented.ip)
        if (
            found is Match.NO
            and policy.dual_stack
            and presented.ip is not None
            and _family(binding.ip) not in (None, presented.ip.version)
        ):
            stored, part = binding.ip2, "ip2"
            found = Match.STALE if stored is UNBOUND and bind_other_family else policy.match_ip(stored, presented.ip)
        if found is Match.NO:
            current = None if presented.ip is None else str(presented.ip)
            return Outcome(REASON_IP, None if stored is UNBOUND else stored, current)
        if found is Match.STALE:
            token = policy.ip_token(presented.ip)
            save = replace(binding, ip2=token) if part == "ip2" else replace(binding, ip=token)
    if policy.restrict_ua and binding.ua is not UNBOUND:
        found = policy.match_ua(binding.ua, presented.user_agent)
        if found is Match.NO:
            return Outcome(REASON_UA, binding.ua, presented.user_agent)
        if found is Match.STALE:
            save = replace(save or binding, ua=policy.ua_token(presented.user_agent))
    return MATCH if save is None else Outcome(save=replace(save, legacy=False, device=False))
