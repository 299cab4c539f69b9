"""What a request presents about its client: the address behind trusted proxies and the User-Agent."""

from __future__ import annotations

from django.http import HttpRequest

from restricted_sessions.addresses import IPAddress
from restricted_sessions.binding import Presented
from restricted_sessions.conf import Config
from restricted_sessions.headers import header
from restricted_sessions.proofs import proof_key

__all__ = ["client_inputs", "client_ip", "presented"]

#: Raw inputs longer than this are never part of a memo key (``client_inputs`` gives None).
MAX_INPUT_LENGTH = 1024


def client_ip(request: HttpRequest, config: Config) -> IPAddress | None:
    """The client address: behind TRUSTED_PROXIES, the first address they did not write."""
    rules = config.addresses
    if rules.trusted:
        return rules.client(request.META.get("REMOTE_ADDR"), header(request, config.forwarded_for_key))
    return rules.first_address(header(request, config.remote_addr_key))


def presented(request: HttpRequest, config: Config) -> Presented:
    """What the request presents, for ``binding.decide``."""
    return Presented(client_ip(request, config), request.META.get("HTTP_USER_AGENT"), jkt=proof_key(request))


def client_inputs(request: HttpRequest, config: Config) -> tuple[str | None, ...] | None:
    """Every raw value that ``presented`` reads, as a tuple; None when one is longer than MAX_INPUT_LENGTH.

    Two requests with equal inputs present the same client under the same configuration, so a
    decision can be remembered by them. Long values are left out, so that junk headers cannot
    fill memory.
    """
    meta = request.META
    if config.addresses.trusted:
        address, forwarded = meta.get("REMOTE_ADDR"), header(request, config.forwarded_for_key)
    else:
        address, forwarded = header(request, config.remote_addr_key), None
    user_agent = meta.get("HTTP_USER_AGENT")
    for value in (address, forwarded, user_agent):
        if value is not None and len(value) > MAX_INPUT_LENGTH:
            return None
    return (address, forwarded, user_agent, proof_key(request))
