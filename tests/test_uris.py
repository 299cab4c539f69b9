"""The request URI as Django sees it and the normal form of URIs (restricted_sessions.uris)."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

import tests.hypothesis_profiles  # noqa: F401 - selects the profile
from restricted_sessions.uris import MAX_URI_LENGTH, normalise_uri, request_htu


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("https://example.com/a/b", "https://example.com/a/b"),
        # RFC 3986 6.2.2.1: case of scheme and host; 6.2.3: default port, empty path.
        ("HTTPS://Example.COM:443/a", "https://example.com/a"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:", "http://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("http://example.com:443/", "http://example.com:443/"),
        # RFC 3986 6.2.2.2: percent-encoding; decoded bytes compared, as Django sees the path.
        ("https://example.com/%7Euser/%61", "https://example.com/~user/a"),
        ("https://example.com/a%2fb", "https://example.com/a/b"),
        ("https://example.com/%e2%82%ac", "https://example.com/%E2%82%AC"),
        ("https://example.com/a%20b", "https://example.com/a%20b"),
        ("https://example.com/100%", "https://example.com/100%25"),
        # RFC 3986 5.2.4 and 6.2.2.3: dot segments.
        ("https://example.com/a/b/c/./../../g", "https://example.com/a/g"),
        ("https://example.com/a/b/..", "https://example.com/a/"),
        ("https://example.com/a/..", "https://example.com/"),
        ("https://example.com/../..", "https://example.com/"),
        ("https://example.com/a/./", "https://example.com/a/"),
        # RFC 9449 4.3 step 9: query and fragment ignored.
        ("https://example.com/a?b=c#d", "https://example.com/a"),
        ("https://[0:0::1]:443/", "https://[::1]/"),
        # The spelling of the standard library's ipaddress (Python 3.13 writes the IPv4 part dotted).
        ("https://[::FFFF:10.0.0.1]:8000/x", f"https://[{ipaddress.ip_address('::ffff:10.0.0.1')}]:8000/x"),
    ],
)
def test_normal_form(uri: str, normal: str) -> None:
    assert normalise_uri(uri) == normal
    assert normalise_uri(normal) == normal


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "/relative/path",
        "example.com/a",
        "ftp://example.com/a",
        "javascript:alert(1)",
        "https:///a",
        "https://user@example.com/",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "https://example.com:port/",
        "https://[not-ipv6]/",
        "https://[v7.a:b]/",
        # IPvFuture (RFC 3986 section 3.2.2) is not a host Django serves: never equal to "v7.future".
        "https://[v7.future]/",
        "https://[192.0.2.1]/",
        "https://[::1/",
        "https://exa mple.com/",
        "https://ex\tample.com/",
        "https://exämple.com/",
        "https://example.com/" + "a" * MAX_URI_LENGTH,
    ],
)
def test_not_an_absolute_http_uri(uri: str) -> None:
    assert normalise_uri(uri) is None


@given(st.text(max_size=80))
def test_any_text_is_normal_or_none(text: str) -> None:
    for uri in (text, "https://example.com/" + text, "http://" + text):
        normal = normalise_uri(uri)
        assert normal is None or normalise_uri(normal) == normal


@given(st.lists(st.sampled_from(["a", "b", ".", "..", "", "%2e", "%41", "%2F", "~"]), max_size=8))
def test_dot_segments_never_escape_the_root(segments: list[str]) -> None:
    normal = normalise_uri("https://example.com/" + "/".join(segments))
    assert normal is not None
    assert normal.startswith("https://example.com/")
    assert "/../" not in normal + "/"
    assert "/./" not in normal + "/"


factory = RequestFactory()


def test_request_htu_from_django_request() -> None:
    request = factory.get("/api/items/", {"page": "2"})
    assert request_htu(request) == "http://testserver/api/items/"


def test_request_htu_escapes_the_decoded_path() -> None:
    # Django's path is decoded: a literal "%" must come back as "%25", not be decoded twice.
    request = factory.get("/caf%C3%A9/100%2541")
    assert request.path == "/café/100%41"
    htu = request_htu(request)
    assert htu == "http://testserver/caf%C3%A9/100%2541"
    assert normalise_uri(htu) == normalise_uri("http://testserver/caf%c3%a9/100%2541")
    assert normalise_uri(htu) != normalise_uri("http://testserver/café/100A")


def test_request_htu_path_starting_with_two_slashes_stays_a_path() -> None:
    request = factory.get("/")
    request.path = "//evil.example/x"  # as a server passes it; the test client would parse a host from it
    assert request_htu(request) == "http://testserver//evil.example/x"


def test_request_htu_includes_script_name() -> None:
    request = factory.get("/items/", SCRIPT_NAME="/app")
    assert request_htu(request) == "http://testserver/app/items/"


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_request_htu_scheme_per_secure_proxy_ssl_header() -> None:
    assert request_htu(factory.get("/a", HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="testserver")) == (
        "https://testserver/a"
    )
    assert request_htu(factory.get("/a", HTTP_HOST="testserver")) == "http://testserver/a"


@override_settings(USE_X_FORWARDED_HOST=True, ALLOWED_HOSTS=["api.example.com", "testserver"])
def test_request_htu_host_per_use_x_forwarded_host() -> None:
    request = factory.get("/a", HTTP_X_FORWARDED_HOST="api.example.com")
    assert request_htu(request) == "http://api.example.com/a"


def test_request_htu_host_per_allowed_hosts() -> None:
    assert request_htu(factory.get("/a", HTTP_HOST="evil.example")) is None
    assert request_htu(factory.get("/a", HTTP_HOST="testserver/../evil.example")) is None


def test_request_htu_keeps_the_port_of_the_host_header() -> None:
    # Django validates the host without its port: the port is part of what the client named.
    assert request_htu(factory.get("/a", HTTP_HOST="testserver:8000")) == "http://testserver:8000/a"
