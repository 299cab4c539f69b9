"""DPoP-bound header sessions through the whole stack (RFC 9449 with the session key as the token).

The reference client (``restricted_sessions.dpop_client.DPoPSessionAuth``) drives the test project
through httpx's WSGI and ASGI transports: a real Django handler, the library's middleware, the
database session store. A thief holds the session key but not the private key.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.test import override_settings
from joserfc.jwk import ECKey

from restricted_sessions.binding import UNBOUND
from restricted_sessions.dpop_client import DPoPSessionAuth
from tests.conftest import DEFAULT_IP, DEFAULT_UA, stored
from tests.restriction_helpers import bound

pytestmark = [pytest.mark.django_db(transaction=True)]

BASE = "http://testserver"


@pytest.fixture(params=["wsgi", "asgi"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Site:
    """Sends requests to the test project, as one client, through the chosen handler."""

    def __init__(self, kind: str, ip: str = DEFAULT_IP) -> None:
        self.kind = kind
        if kind == "wsgi":
            self.transport: Any = httpx.WSGITransport(app=get_wsgi_application(), remote_addr=ip)
        else:
            self.transport = httpx.ASGITransport(app=get_asgi_application(), client=(ip, 1234))  # type: ignore[arg-type]

    def request(self, method: str, path: str, *, auth: httpx.Auth | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"User-Agent": DEFAULT_UA, **kwargs.pop("headers", {})}
        prefix = "/sync" if self.kind == "wsgi" else "/async"
        if self.kind == "wsgi":
            with httpx.Client(transport=self.transport, base_url=BASE) as client:
                return client.request(method, prefix + path, auth=auth, headers=headers, **kwargs)

        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=self.transport, base_url=BASE) as client:
                return await client.request(method, prefix + path, auth=auth, headers=headers, **kwargs)

        return async_to_sync(send)()


def log_in(site: Site, auth: DPoPSessionAuth) -> str:
    response = site.request("POST", "/login/", auth=auth, data={"username": "alice"})
    assert response.status_code == 200, response.text
    assert auth.session_key
    return auth.session_key


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_a_login_with_a_proof_binds_the_session_to_the_key(transport: str, alice: Any) -> None:
    site, auth = Site(transport), DPoPSessionAuth()
    key = log_in(site, auth)
    assert bound(stored(key)).jkt == auth.key.thumbprint()
    assert site.request("GET", "/read/", auth=auth).status_code == 200
    assert site.request("GET", "/whoami/", auth=auth).json()["user"] == "alice"


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_a_proof_after_the_login_never_binds_the_session_to_its_key(transport: str, alice: Any) -> None:
    # RFC 9449 keys are bound when the session is (its start or a login): a holder of a session
    # started without a proof cannot later bind it to a key of their own and lock the owner out.
    site = Site(transport)
    login = site.request("POST", "/login/", data={"username": "alice"}, headers={"X-SessionID": ""})
    key = login.headers["X-SessionID"]
    assert key
    assert bound(stored(key)).jkt is UNBOUND

    other = DPoPSessionAuth(session_key=key)
    assert site.request("GET", "/write/", auth=other, params={"value": "x"}).status_code == 200

    assert bound(stored(key)).jkt is UNBOUND
    assert site.request("GET", "/read/", headers={"X-SessionID": key}).status_code == 200


@override_settings(
    RESTRICTEDSESSIONS_DPOP="optional", RESTRICTEDSESSIONS_RESTRICT_IP=False, RESTRICTEDSESSIONS_RESTRICT_UA=False
)
def test_with_only_dpop_on_a_proof_after_the_login_never_binds_the_session_to_its_key(
    transport: str, alice: Any
) -> None:
    # No IP or User-Agent binding is stored: the start of a session is told by the request, not
    # by an empty stored binding.
    site = Site(transport)
    login = site.request("POST", "/login/", data={"username": "alice"}, headers={"X-SessionID": ""})
    key = login.headers["X-SessionID"]
    assert key
    other = DPoPSessionAuth(session_key=key)

    assert site.request("GET", "/write/", auth=other, params={"value": "x"}).status_code == 200

    assert "_restrictedsessions" not in stored(key)
    assert site.request("GET", "/read/", headers={"X-SessionID": key}).status_code == 200


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_a_login_with_a_proof_into_a_session_started_without_one_binds_the_key(transport: str, alice: Any) -> None:
    site, auth = Site(transport), DPoPSessionAuth()
    started = site.request("GET", "/write/", params={"value": "x"}, headers={"X-SessionID": ""})
    auth.session_key = started.headers["X-SessionID"]
    assert bound(stored(auth.session_key)).jkt is UNBOUND

    key = log_in(site, auth)

    assert bound(stored(key)).jkt == auth.key.thumbprint()


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_the_stolen_key_without_a_proof_is_refused(transport: str, alice: Any) -> None:
    site, auth = Site(transport), DPoPSessionAuth()
    key = log_in(site, auth)
    response = site.request("GET", "/read/", headers={"X-SessionID": key})
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]
    assert "carried no proof by it: it has ended" in response.headers["WWW-Authenticate"]
    assert response.headers["X-SessionID"] == ""
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_a_proof_from_another_key_is_refused(transport: str, alice: Any) -> None:
    site, auth = Site(transport), DPoPSessionAuth()
    key = log_in(site, auth)
    thief = DPoPSessionAuth(session_key=key)
    response = site.request("GET", "/read/", auth=thief)
    assert response.status_code == 401
    assert "bound to another key: it has ended" in response.headers["WWW-Authenticate"]
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_a_replayed_proof_is_refused_and_the_owner_keeps_the_session(transport: str, alice: Any) -> None:
    site, auth = Site(transport), DPoPSessionAuth()
    key = log_in(site, auth)
    path = f"{BASE}/{'sync' if transport == 'wsgi' else 'async'}/read/"
    signed = next(auth.auth_flow(httpx.Request("GET", path, headers={"User-Agent": DEFAULT_UA})))
    headers = {name: value for name, value in signed.headers.items() if name in ("dpop", "x-sessionid")}
    assert site.request("GET", "/read/", headers=headers).status_code == 200
    replay = site.request("GET", "/read/", headers=headers)
    assert replay.status_code == 401
    assert "used before" in replay.headers["WWW-Authenticate"]
    # A refused proof never ends the session: the owner goes on.
    assert site.request("GET", "/read/", auth=auth).status_code == 200
    assert stored(key)


@override_settings(RESTRICTEDSESSIONS_DPOP="optional", RESTRICTEDSESSIONS_DPOP_RESTRICT_IP=False)
def test_a_key_bound_client_keeps_its_session_when_its_address_changes(transport: str, alice: Any) -> None:
    auth = DPoPSessionAuth()
    log_in(Site(transport, ip="10.0.0.1"), auth)
    for ip in ("192.0.2.7", "198.51.100.9", "2001:db8::5"):
        assert Site(transport, ip=ip).request("GET", "/read/", auth=auth).status_code == 200


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_by_default_a_key_bound_session_still_checks_the_address(transport: str, alice: Any) -> None:
    auth = DPoPSessionAuth()
    key = log_in(Site(transport, ip="10.0.0.1"), auth)
    assert Site(transport, ip="192.0.2.7").request("GET", "/read/", auth=auth).status_code == 400
    assert stored(key) == {}


@override_settings(RESTRICTEDSESSIONS_DPOP="required")
def test_required_mode_refuses_a_header_session_without_a_proof(transport: str, alice: Any) -> None:
    response = Site(transport).request("POST", "/login/", data={"username": "alice"}, headers={"X-SessionID": ""})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'DPoP algs="ES256 EdDSA"'


@override_settings(RESTRICTEDSESSIONS_DPOP="optional", RESTRICTEDSESSIONS_DPOP_NONCE=True)
def test_the_client_retries_once_with_the_servers_nonce(transport: str, alice: Any) -> None:
    site, auth = Site(transport), DPoPSessionAuth()
    log_in(site, auth)
    assert auth.nonce
    assert site.request("GET", "/read/", auth=auth).status_code == 200


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
@pytest.mark.parametrize(
    "value",
    ["", "junk", "a.b.c", "x" * 10_000, "e30.e30.e30", "a.b.c,d.e.f", "%C3%A9.\t.\x7f"],
)
def test_a_malformed_proof_is_a_401_never_a_500(transport: str, alice: Any, value: str) -> None:
    headers = {"X-SessionID": "", "DPoP": value}
    response = Site(transport).request("GET", "/read/", headers=headers)
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_cookie_sessions_are_left_to_the_other_bindings(transport: str, alice: Any) -> None:
    key = ECKey.generate_key("P-256")
    auth = DPoPSessionAuth(key)
    site = Site(transport)
    # No X-SessionID: a cookie client; its DPoP header is not what binds it.
    response = site.request("POST", "/login/", data={"username": "alice"}, headers={"DPoP": "junk"})
    assert response.status_code in (200, 403)
    assert auth.session_key is None


WITHOUT_COMMON_MIDDLEWARE = [
    path for path in settings.MIDDLEWARE if path != "django.middleware.common.CommonMiddleware"
]


@override_settings(RESTRICTEDSESSIONS_DPOP="optional", MIDDLEWARE=WITHOUT_COMMON_MIDDLEWARE)
def test_a_proof_sent_to_a_host_that_is_not_allowed_is_a_401_never_a_500(transport: str, alice: Any) -> None:
    """Nothing before the restriction asked for the host (CommonMiddleware would have refused it)."""
    site, auth = Site(transport), DPoPSessionAuth()
    response = site.request("POST", "/login/", auth=auth, data={"username": "alice"}, headers={"Host": "evil.example"})
    assert response.status_code == 401
    assert 'error_description="The request\'s host is not allowed."' in response.headers["WWW-Authenticate"]
