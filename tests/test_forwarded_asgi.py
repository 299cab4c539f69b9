"""Behind trusted proxies, a client cannot smuggle an address past them under ASGI.

A client-sent ``x_forwarded_for`` maps to the same META key as ``x-forwarded-for``; if the two
were joined, the client's value could end up right-most, where the walk starts. (Django's
ASGIRequest drops header names with underscores, as WSGI servers do; these tests pin that.)
"""

from __future__ import annotations

import io
from ipaddress import ip_address
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.test import override_settings

from restricted_sessions.clients import client_ip as _client_ip
from restricted_sessions.conf import get_config


def client_ip(request: Any) -> Any:
    return _client_ip(request, get_config())


def asgi_request(headers: list[tuple[bytes, bytes]], client: str = "10.0.0.2") -> ASGIRequest:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": headers,
        "client": (client, 50000),
        "server": ("testserver", 80),
    }
    return ASGIRequest(scope, io.BytesIO())


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/24"])
def test_an_underscored_header_cannot_append_an_address_after_the_proxy() -> None:
    request = asgi_request(
        [
            (b"x-forwarded-for", b"6.6.6.6, 203.0.113.7"),
            (b"x_forwarded_for", b"198.51.100.9"),
        ]
    )

    assert client_ip(request) == ip_address("203.0.113.7")


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/24"])
def test_repeated_forwarding_headers_are_read_in_order() -> None:
    request = asgi_request([(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"203.0.113.7")])

    assert client_ip(request) == ip_address("203.0.113.7")


@override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/24"])
def test_without_a_forwarding_header_the_trusted_peer_is_the_client() -> None:
    assert client_ip(asgi_request([])) == ip_address("10.0.0.2")


@override_settings(
    RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/24"],
    RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_REAL_IP",
)
def test_a_named_forwarding_header_is_read_from_the_scope_too() -> None:
    request = asgi_request([(b"x-real-ip", b"203.0.113.7"), (b"x_real_ip", b"198.51.100.9")])

    assert client_ip(request) == ip_address("203.0.113.7")
