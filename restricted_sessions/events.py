"""What the middleware reads from a request, and what it reports about a detected change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth import SESSION_KEY as AUTH_USER_SESSION_KEY
from django.http import HttpRequest

from restricted_sessions import binding
from restricted_sessions.addresses import (
    IPAddress,
    client_behind_proxies,
    first_address,
    masked,
    parse_ip,
)
from restricted_sessions.conf import conf

logger = logging.getLogger("restricted_sessions")


def client_ip(request: HttpRequest) -> IPAddress | None:
    """The client address: behind TRUSTED_PROXIES, the first address they did not write."""
    trusted = conf.trusted_proxy_networks
    if trusted:
        return client_behind_proxies(request.META.get("REMOTE_ADDR"), request.META.get(conf.forwarded_for_key), trusted)
    return first_address(request.META.get(conf.REMOTE_ADDR_KEY))


class Change:
    """A detected change of a bound session: logged on creation, then sent as a signal."""

    def __init__(self, request: HttpRequest, stored: Callable[[str, Any], Any], verdict: binding.Verdict) -> None:
        self.request = request
        self.reason = verdict.reason
        self.current_ip = client_ip(request)
        self.stored: Any = stored(verdict.key or "", None)
        if self.reason == binding.REASON_IP:
            self.current: Any = None if self.current_ip is None else str(self.current_ip)
            stored_ip = self.stored
        else:
            self.current = request.META.get("HTTP_USER_AGENT")
            stored_ip = stored(binding.IP_SESSION_KEY, None)
        # A hashed binding holds no address to report.
        self.stored_address = parse_ip(stored_ip) if isinstance(stored_ip, str) else None
        self.user_id = stored(AUTH_USER_SESSION_KEY, None)
        self.log()

    def log(self) -> None:
        # Never the session key or cookies: they are bearer credentials. With the hashed store,
        # the addresses in the message are masked as well.
        privacy = conf.STORE == "hashed"
        logger.warning(
            "Session restricted: the %s changed (bound IP %s, request IP %s, path %s)%s.",
            "IP address" if self.reason == binding.REASON_IP else "User-Agent",
            masked(self.stored_address) if privacy else (self.stored_address or "-"),
            masked(self.current_ip) if privacy else (self.current_ip or "-"),
            self.request.path,
            "" if not conf.REPORT_ONLY else "; report only, not enforced",
            extra={
                "reason": self.reason,
                "old_ip": masked(self.stored_address),
                "new_ip": masked(self.current_ip),
                "user_id": self.user_id,
                "path": self.request.path,
                "enforced": not conf.REPORT_ONLY,
            },
        )

    def signal_kwargs(self) -> dict[str, Any]:
        from restricted_sessions.middleware import RestrictedSessionsMiddleware

        return {
            "sender": RestrictedSessionsMiddleware,
            "request": self.request,
            "reason": self.reason,
            "stored": self.stored,
            "current": self.current,
            "enforced": not conf.REPORT_ONLY,
        }
