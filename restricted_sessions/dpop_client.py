"""A reference DPoP client for header sessions: an ``httpx`` authentication class.

Needs httpx and joserfc: ``pip install "restricted_sessions[client]"``. Nothing in the server
side of the package imports this module.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Generator

from restricted_sessions.dpop import DPOP_HEADER, NONCE_HEADER, PROOF_TYPE, USE_NONCE, access_token_hash

try:
    import httpx
    from joserfc import jws
    from joserfc.jwk import ECKey
except ImportError as error:  # pragma: no cover - exercised in a test that hides httpx
    raise ModuleNotFoundError(
        'The DPoP client needs httpx and joserfc: pip install "restricted_sessions[client]"', name=error.name
    ) from error

__all__ = ["DPoPSessionAuth"]

# The error code exists only in DPoP challenges (RFC 9449 section 12.2).
_USE_NONCE_ERROR = f'error="{USE_NONCE}"'


class DPoPSessionAuth(httpx.Auth):
    """Header sessions whose key is bound to a DPoP key (RFC 9449), for ``httpx.Client`` and ``httpx.AsyncClient``.

    Every request gets a fresh ES256 proof in the ``DPoP`` header (``htm``, ``htu`` without query
    and fragment, ``iat``, a random ``jti``; ``ath`` while a session key is held; ``nonce`` once the
    server sent one in ``DPoP-Nonce``) and the session key in ``session_header``: empty at first,
    which asks the server for a header session. The key from a response's ``session_header`` is kept
    (it changes at login), an empty one drops it (the session ended). A 401 answer with the
    ``use_dpop_nonce`` challenge is retried once with the server's nonce.

    ``key`` is a private P-256 ``joserfc.jwk.ECKey`` (generated when omitted; keep it, e.g. with
    ``key.as_pem(private=True)``, to keep a session across runs). One instance serves one client.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        key: ECKey | None = None,
        *,
        session_key: str | None = None,
        session_header: str = "X-SessionID",
    ) -> None:
        self.key = key if key is not None else ECKey.generate_key("P-256")
        if not self.key.is_private or self.key.curve_name != "P-256":
            raise ValueError("DPoPSessionAuth needs a private P-256 key for ES256.")
        self.session_key = session_key or None
        self.session_header = session_header
        self.nonce: str | None = None
        public = self.key.as_dict(private=False)
        self._header = {
            "typ": PROOF_TYPE,
            "alg": "ES256",
            "jwk": {"kty": "EC", "crv": public["crv"], "x": public["x"], "y": public["y"]},
        }

    @property
    def jkt(self) -> str:
        """The key's RFC 7638 SHA-256 thumbprint: what the server binds the session to."""
        return self.key.thumbprint()

    def proof(self, method: str, url: httpx.URL) -> str:
        """A new proof for a request of ``method`` to ``url``, for the session key held now."""
        claims: dict[str, str | int] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": str(url.copy_with(query=None, fragment=None)),
            "iat": int(time.time()),
        }
        if self.session_key:
            claims["ath"] = access_token_hash(self.session_key)
        if self.nonce:
            claims["nonce"] = self.nonce
        payload = json.dumps(claims, separators=(",", ":"))
        return jws.serialize_compact(self._header, payload, self.key, algorithms=["ES256"])

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._sign(request)
        response = yield request
        sent_nonce = self.nonce
        self._learn(response)
        if response.status_code == 401 and self.nonce != sent_nonce and _asks_for_nonce(response):
            self._sign(request)
            response = yield request
            self._learn(response)

    def _sign(self, request: httpx.Request) -> None:
        request.headers[self.session_header] = self.session_key or ""
        request.headers[DPOP_HEADER] = self.proof(request.method, request.url)

    def _learn(self, response: httpx.Response) -> None:
        nonce = response.headers.get(NONCE_HEADER)
        if nonce:
            self.nonce = nonce
        if self.session_header in response.headers:
            self.session_key = response.headers[self.session_header] or None


def _asks_for_nonce(response: httpx.Response) -> bool:
    return any(_USE_NONCE_ERROR in challenge for challenge in response.headers.get_list("WWW-Authenticate"))
