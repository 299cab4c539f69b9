"""What a request presents about its client: the address behind trusted proxies and the User-Agent."""

from __future__ import annotations

from django.http import HttpRequest

from restricted_sessions.addresses import IPAddress
from restricted_sessions.binding import Presented
from restricted_sessions.conf import Config
from restricted_sessions.headers import header
from restricted_sessions.proofs import proof_key

__all__ = ["client_ip", "presented"]


def client_ip(request: HttpRequest, config: Config) -> IPAddress | None:
    """The client address: behind TRUSTED_PROXIES, the first address they did not write."""
    rules = config.addresses
    if rules.trusted:
        return rules.client(request.META.get("REMOTE_ADDR"), header(request, config.forwarded_for_key))
    return rules.first_address(header(request, config.remote_addr_key))


def presented(request: HttpRequest, config: Config) -> Presented:
    """What the request presents, for ``binding.decide``."""
    return Presented(client_ip(request, config), request.META.get("HTTP_USER_AGENT"), jkt=proof_key(request))
