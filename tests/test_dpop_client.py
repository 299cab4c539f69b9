"""The reference httpx client (restricted_sessions.dpop_client) against a tiny in-process server that
checks every request with verify_proof, and against an independent verifier."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.cache import caches
from joserfc.jwk import ECKey
from requests_oauth2client.dpop import validate_dpop_proof

from restricted_sessions.dpop import (
    DPOP_HEADER,
    NONCE_HEADER,
    USE_NONCE,
    InvalidProof,
    JtiStore,
    access_token_hash,
    new_nonce,
    nonce_is_valid,
    verify_proof,
    www_authenticate,
)
from restricted_sessions.dpop_client import DPoPSessionAuth

HEADER = "X-SessionID"
ALGORITHMS = ("ES256",)


class Server:
    """Header sessions bound to the key that started them, the protocol of the README, in memory.

    ``/login`` starts a bound session, ``/logout`` ends it, any other path answers who is asking.
    """

    def __init__(self, *, nonce_required: bool = False, always_new_nonce: bool = False) -> None:
        self.nonce_required = nonce_required
        self.always_new_nonce = always_new_nonce
        self.sessions: dict[str, str] = {}
        self.requests: list[httpx.Headers] = []
        self.jti_store = JtiStore()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # The client re-signs the same Request object for a retry: keep the headers as they arrived.
        self.requests.append(request.headers.copy())
        sent = request.headers.get(HEADER)
        now = time.time()
        try:
            proof = verify_proof(
                request.headers.get(DPOP_HEADER, ""),
                method=request.method,
                url=str(request.url),
                session_key=sent,
                algorithms=ALGORITHMS,
                iat_leeway=60,
                now=now,
                nonce_required=self.nonce_required,
                nonce_ok=lambda nonce: nonce_is_valid(nonce, 300) and not self.always_new_nonce,
            )
        except InvalidProof as refusal:
            return self.refuse(refusal.error, refusal.description)
        if not self.jti_store.use(proof, leeway=60, now=now):
            return self.refuse("invalid_dpop_proof", "replayed")
        bound = self.sessions.get(sent or "")
        if sent and bound is None:
            return httpx.Response(200, headers={HEADER: ""}, json={"user": None})
        if bound is not None and bound != proof.jkt:
            return self.refuse("invalid_dpop_proof", "another key")
        if request.url.path == "/login":
            self.sessions.pop(sent or "", None)
            key = secrets.token_hex(16)
            self.sessions[key] = proof.jkt
            return httpx.Response(200, headers={HEADER: key}, json={"user": "alice"})
        if request.url.path == "/logout":
            self.sessions.pop(sent or "", None)
            return httpx.Response(200, headers={HEADER: ""}, json={"user": None})
        return httpx.Response(200, json={"user": "alice" if bound else None, "jkt": proof.jkt})

    def refuse(self, error: str, description: str) -> httpx.Response:
        headers = {"WWW-Authenticate": www_authenticate(error, ALGORITHMS, description)}
        if error == USE_NONCE:
            headers[NONCE_HEADER] = new_nonce()
        return httpx.Response(401, headers=headers)

    def claims(self, index: int) -> dict[str, Any]:
        payload = self.requests[index][DPOP_HEADER].split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "==")))


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
        assert http.post("/login").json() == {"user": "alice"}
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
        assert (await http.post("/login")).json() == {"user": "alice"}
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


def test_other_401_is_not_retried() -> None:
    server, auth = Server(), DPoPSessionAuth()
    with client(server, auth) as http:
        http.post("/login")
        auth.key = ECKey.generate_key("P-256")  # a thief's key with the stolen session key
        auth._header["jwk"] = dict(auth.key.as_dict(private=False))
        response = http.get("/me")
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]
    assert len(server.requests) == 2


def test_stolen_session_key_with_another_key_is_refused() -> None:
    server, owner = Server(), DPoPSessionAuth()
    with client(server, owner) as http:
        http.post("/login")
    thief = DPoPSessionAuth(session_key=owner.session_key)
    with client(server, thief) as http:
        assert http.get("/me").status_code == 401
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
    assert validated.headers["jwk"] == auth._header["jwk"]
