"""A tiny DPoP header-session server for the client tests: every request checked with verify_proof."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import httpx

from restricted_sessions.dpop import (
    DPOP_HEADER,
    NONCE_HEADER,
    USE_NONCE,
    InvalidProof,
    JtiStore,
    new_nonce,
    nonce_is_valid,
    verify_proof,
    www_authenticate,
)

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
            return httpx.Response(200, headers={HEADER: key}, json={"user": "alice", "body": request.content.decode()})
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
