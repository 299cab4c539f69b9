"""What the library says about a detected change: the log line and the ``session_restricted`` signal.

Shared by the HTTP middleware and the Channels middleware, so both report alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from restricted_sessions.addresses import IPAddress, masked, parse_ip
from restricted_sessions.binding import NEVER, REASON_DBSC, REASON_DPOP, REASON_IP, Outcome, Policy

__all__ = ["Change", "escaped", "log_receiver_errors"]

logger = logging.getLogger("restricted_sessions")


def escaped(value: object) -> object:
    """A request-supplied string made safe for a log line, as Django escapes its own request logs.

    CR, LF, ANSI escapes and other control characters become ``\\r``, ``\\n``, ``\\x1b``..., so
    a client cannot forge log lines (``str.encode("unicode_escape")``, Django's ``log_message``).
    """
    if isinstance(value, str):
        return value.encode("unicode_escape").decode("ascii")
    return value


@dataclass(frozen=True)
class Change:
    """A change of a bound session, as logged and as sent with the signal."""

    request: HttpRequest
    outcome: Outcome
    client_ip: IPAddress | None
    #: The session's ``_auth_user_id``, or None for an anonymous session.
    user_id: Any
    enforced: bool
    hashed: bool

    def log(self, policy: Policy) -> None:
        """One WARNING on ``restricted_sessions``: what was bound, what arrived. Never the key."""
        path = escaped(self.request.path)
        tail = "" if self.enforced else "; report only, not enforced"
        stored = self.outcome.stored
        bound_ip = parse_ip(stored) if isinstance(stored, str) and self.outcome.reason == REASON_IP else None
        if self.outcome.reason == REASON_DBSC:
            logger.warning(
                "Session restricted: the device-bound session came without a valid bound cookie (path %s)%s.",
                path,
                tail,
                extra=self._extra(None, path),
            )
        elif self.outcome.reason == REASON_DPOP:
            logger.warning(
                "Session restricted: the session is bound to a DPoP key and the request %s (path %s)%s.",
                "presented no proof" if self.outcome.current is None else "presented a proof by another key",
                path,
                tail,
                extra=self._extra(None, path),
            )
        elif self.outcome.reason == REASON_IP:
            privacy = self.hashed
            logger.warning(
                "Session restricted: the IP address changed (bound %s, request %s, path %s)%s.",
                # A binding made while the address was unreadable holds NEVER: it is no hash.
                _address(bound_ip, privacy, hashed_binding=bound_ip is None and stored not in (None, NEVER)),
                _address(self.client_ip, privacy),
                path,
                tail,
                extra=self._extra(bound_ip, path),
            )
        else:
            bound_none = policy.match_ua(stored, None).name != "NO"
            sent_none = not self.request.META.get("HTTP_USER_AGENT")
            logger.warning(
                "Session restricted: the User-Agent changed (bound %s, request %s, path %s)%s.",
                "to no User-Agent" if bound_none else "to a User-Agent",
                "sent none" if sent_none else "sent " + ("one" if bound_none else "another"),
                path,
                tail,
                # decide() compares the address first: a User-Agent change came from the bound network.
                extra=self._extra(self.client_ip if policy.restrict_ip else None, path),
            )

    def _extra(self, bound_ip: IPAddress | None, path: object) -> dict[str, Any]:
        return {
            "reason": self.outcome.reason,
            "old_ip": masked(bound_ip),
            "new_ip": masked(self.client_ip),
            "user_id": self.user_id,
            "path": path,
            "enforced": self.enforced,
        }

    def signal_kwargs(self, sender: Any, **extra: Any) -> dict[str, Any]:
        """The arguments of ``session_restricted`` (see ``restricted_sessions.signals``)."""
        return {
            "sender": sender,
            "request": self.request,
            "reason": self.outcome.reason,
            "stored": self.outcome.stored,
            "current": self.outcome.current,
            "enforced": self.enforced,
            **extra,
        }


def _address(address: IPAddress | None, privacy: bool, hashed_binding: bool = False) -> str:
    if hashed_binding:
        return "hashed"
    if address is None:
        return "unreadable"
    return masked(address) if privacy else str(address)


def log_receiver_errors(responses: list[tuple[Any, Any]]) -> None:
    """Log each ``session_restricted`` receiver that raised; the session is handled anyway."""
    for receiver, result in responses:
        if isinstance(result, Exception):
            logger.error(
                "A session_restricted receiver (%r) raised; the session is handled anyway.",
                receiver,
                exc_info=result,
            )
