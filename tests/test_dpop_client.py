"""The reference httpx client (restricted_sessions.dpop_client) against a tiny in-process server that
checks every request with verify_proof, and against an independent verifier."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import httpx
import jwskate
import pytest
from django.core.cache import caches
from joserfc.jwk import ECKey
from requests_oauth2client.dpop import validate_dpop_proof

from restricted_sessions.dpop import access_token_hash, nonce_is_valid
from restricted_sessions.dpop_client import DPoPSessionAuth
from tests.dpop_server import HEADER, Server


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    caches["default"].clear()
    yield
    caches["default"].clear()


def client(server: Server, auth: DPoPSessionAuth) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(server), auth=auth, base_url="https://api.example.com")


def session_key(auth: DPoPSessionAuth) -> str | None:
    return auth.session_key


def test_log_in_browse_log_out() -> None:
    server, auth = Server(), DPoPSessionAuth()
    with client(server, auth) as http:
        assert http.get("/me").json() == {"user": None, "jkt": auth.jkt}
        assert server.requests[0][HEADER] == ""
        assert "ath" not in server.claims(0)
        assert http.post("/login").json()["user"] == "alice"
        assert auth.session_key in server.sessions
        assert http.get("/me", params={"page": 2}).json()["user"] == "alice"
        assert server.requests[2][HEADER] == auth.session_key
        assert server.claims(2)["ath"] == access_token_hash(auth.session_key)
        assert server.claims(2)["htu"] == "https://api.example.com/me"
        assert server.claims(2)["htm"] == "GET"
        assert http.post("/logout").json() == {"user": None}
        assert session_key(auth) is None
        http.get("/me")
        assert server.requests[-1][HEADER] == ""
    assert len({server.claims(index)["jti"] for index in range(len(server.requests))}) == len(server.requests)


async def test_async_client() -> None:
    server, auth = Server(nonce_required=True), DPoPSessionAuth()
    transport = httpx.MockTransport(server)
    async with httpx.AsyncClient(transport=transport, auth=auth, base_url="https://api.example.com") as http:
        assert (await http.post("/login")).json()["user"] == "alice"
        assert (await http.get("/me")).json()["user"] == "alice"
    assert len(server.requests) == 3  # one nonce retry, then the nonce is known


def test_nonce_retried_once_then_reused() -> None:
    server, auth = Server(nonce_required=True), DPoPSessionAuth()
    with client(server, auth) as http:
        assert http.get("/me").status_code == 200
        assert len(server.requests) == 2
        assert "nonce" not in server.claims(0)
        assert nonce_is_valid(server.claims(1)["nonce"], 300)
        assert server.claims(0)["jti"] != server.claims(1)["jti"]
        assert http.get("/me").status_code == 200
        assert len(server.requests) == 3


def test_nonce_retry_happens_once() -> None:
    server, auth = Server(nonce_required=True, always_new_nonce=True), DPoPSessionAuth()
    with client(server, auth) as http:
        response = http.get("/me")
    assert response.status_code == 401
    assert len(server.requests) == 2


def test_stolen_session_key_with_another_key_is_refused_without_retry() -> None:
    server, owner = Server(), DPoPSessionAuth()
    with client(server, owner) as http:
        http.post("/login")
    thief = DPoPSessionAuth(session_key=owner.session_key)
    with client(server, thief) as http:
        response = http.get("/me")
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]
    assert len(server.requests) == 2
    with client(server, owner) as http:
        assert http.get("/me").json()["user"] == "alice"


def test_given_key_and_session_key() -> None:
    key = ECKey.generate_key("P-256")
    auth = DPoPSessionAuth(key, session_key="abc")
    assert auth.jkt == key.thumbprint()
    assert auth.session_key == "abc"
    with pytest.raises(ValueError, match="private P-256"):
        DPoPSessionAuth(ECKey.generate_key("P-384"))
    with pytest.raises(ValueError, match="private P-256"):
        DPoPSessionAuth(ECKey.import_key(key.as_dict(private=False)))


def test_proofs_accepted_by_an_independent_verifier() -> None:
    auth = DPoPSessionAuth(session_key="session-key-1")
    auth.nonce = "n-1"
    proof = auth.proof("PATCH", httpx.URL("https://api.example.com/items/7?x=1#top"))
    validated = validate_dpop_proof(
        proof,
        htm="PATCH",
        htu="https://api.example.com/items/7",
        ath=access_token_hash("session-key-1"),
        nonce="n-1",
        algs=["ES256"],
    )
    assert jwskate.Jwk(validated.headers["jwk"]).thumbprint() == auth.jkt


def test_import_without_httpx_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.delitem(sys.modules, "restricted_sessions.dpop_client")
    with pytest.raises(ImportError, match=r'pip install "restricted_sessions\[client\]"'):
        importlib.import_module("restricted_sessions.dpop_client")
