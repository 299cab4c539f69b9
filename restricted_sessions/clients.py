"""What a request presents about its client: the address behind trusted proxies and the User-Agent."""

from __future__ import annotations

from django.http import HttpRequest

from restricted_sessions.addresses import IPAddress
from restricted_sessions.binding import Presented
from restricted_sessions.conf import Config
from restricted_sessions.headers import header
from restricted_sessions.proofs import proof_key

__all__ = ["ClientInputs", "client_inputs", "client_ip", "presented", "presented_from"]

#: The raw values a request presents: (address value, forwarding header or None, User-Agent, DPoP thumbprint).
ClientInputs = tuple[str | None, str | None, str | None, str | None]


def client_inputs(request: HttpRequest, config: Config) -> ClientInputs:
    """Every raw value that ``presented`` reads, in the one place that reads them.

    The address value is ``REMOTE_ADDR`` behind TRUSTED_PROXIES (with the forwarding header they
    append to), else the configured address header (``REMOTE_ADDR_KEY``) and no forwarding header.
    Two requests with equal inputs present the same client under the same configuration.
    """
    meta = request.META
    if config.addresses.trusted:
        address, forwarded = meta.get("REMOTE_ADDR"), header(request, config.forwarded_for_key)
    elif config.remote_addr_key == "REMOTE_ADDR":
        # Not a header: no underscore-spelled name can feed it, so META is read directly.
        address, forwarded = meta.get("REMOTE_ADDR"), None
    else:
        address, forwarded = header(request, config.remote_addr_key), None
    # Only a DPoP mode other than "off" verifies proofs: otherwise there is no thumbprint to read.
    jkt = None if config.dpop_mode == "off" else proof_key(request)
    return (address, forwarded, meta.get("HTTP_USER_AGENT"), jkt)


def _address(inputs: ClientInputs, config: Config) -> IPAddress | None:
    address, forwarded = inputs[0], inputs[1]
    rules = config.addresses
    if rules.trusted:
        return rules.client(address, forwarded)
    return rules.first_address(address)


def client_ip(request: HttpRequest, config: Config) -> IPAddress | None:
    """The client address: behind TRUSTED_PROXIES, the first address they did not write."""
    return _address(client_inputs(request, config), config)


def presented_from(inputs: ClientInputs, config: Config) -> Presented:
    """What ``inputs`` (from :func:`client_inputs`) present, for ``binding.decide``."""
    return Presented(_address(inputs, config), inputs[2], jkt=inputs[3])


def presented(request: HttpRequest, config: Config) -> Presented:
    """What the request presents, for ``binding.decide``."""
    return presented_from(client_inputs(request, config), config)
