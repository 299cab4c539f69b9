"""The request URI as Django sees it, and the normal form in which two URIs are compared.

Used for the ``htu`` claim of a DPoP proof (RFC 9449 section 4.3, step 9). Pure functions on
strings, except ``request_htu``, which reads scheme and host through Django's own request API.
"""

from __future__ import annotations

import re
from functools import lru_cache
from ipaddress import IPv6Address
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.utils.encoding import escape_uri_path

__all__ = ["DEFAULT_PORTS", "MAX_URI_LENGTH", "normalise_uri", "request_htu"]

DEFAULT_PORTS = {"http": 80, "https": 443}
# URIs longer than this are never equal to a request's: refused before the cache, so junk cannot
# fill it with large strings. Browsers and servers cap request lines at about 8 kB.
MAX_URI_LENGTH = 8192
# RFC 3986 pchar without pct-encoded, plus "/": what stays literal in a normal path.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


def normalise_uri(uri: str) -> str | None:
    """``scheme://host[:port]/path`` of an absolute http(s) URI, in normal form; ``None`` if it is not one.

    Normalised per RFC 3986 sections 6.2.2 and 6.2.3: scheme and host in lower case, the default
    port dropped, an empty path as ``/``, dot segments removed, percent-encoding in one canonical
    form. Query and fragment are dropped (RFC 9449 section 4.3, step 9). A URI with user
    information, a non-http(s) scheme, no host, a bad port, or characters outside printable ASCII
    is ``None``.
    """
    if len(uri) > MAX_URI_LENGTH or _PRINTABLE_ASCII.fullmatch(uri) is None:
        return None
    return _normalise(uri)


@lru_cache(maxsize=1024)
def _normalise(uri: str) -> str | None:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if "[" in parts.netloc:
        # An IP literal (RFC 3986 section 3.2.2): an IPv6 address; IPvFuture is not a host we serve.
        try:
            host = f"[{IPv6Address(host).compressed}]"
        except ValueError:
            return None
    authority = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Django sees the path percent-decoded (PATH_INFO), so two paths that decode to the same bytes
    # are the same resource to it: compare decoded bytes, re-encoded one way.
    path = _remove_dot_segments(unquote_to_bytes(parts.path or "/"))
    return f"{scheme}://{authority}{quote_from_bytes(path, safe=_PATH_SAFE)}"


def _remove_dot_segments(path: bytes) -> bytes:
    """RFC 3986 section 5.2.4 for an absolute path."""
    segments = path.split(b"/")[1:]
    output: list[bytes] = []
    for segment in segments:
        if segment == b"..":
            if output:
                output.pop()
        elif segment != b".":
            output.append(segment)
    result = b"/" + b"/".join(output)
    if output and segments[-1] in (b".", b".."):
        result += b"/"
    return result


def request_htu(request: HttpRequest) -> str | None:
    """The URI of ``request`` without query and fragment, as Django sees it; ``None`` if its host is not allowed.

    Scheme from ``request.scheme`` (``SECURE_PROXY_SSL_HEADER``), host from ``request.get_host()``
    (``USE_X_FORWARDED_HOST``, ``ALLOWED_HOSTS``; ``DisallowedHost`` gives ``None``), path from
    ``request.path`` (``SCRIPT_NAME`` included), escaped with ``escape_uri_path``. Built by hand
    rather than with ``build_absolute_uri``, which reads a path starting with ``//`` as a host.
    """
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return f"{request.scheme}://{host}{escape_uri_path(request.path)}"
