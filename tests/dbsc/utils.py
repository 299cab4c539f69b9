"""Helpers of the DBSC tests: a device that signs proofs as Chromium does, real Chromium proofs."""

from __future__ import annotations

import json
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

# Proofs that this machine's Chromium 156 sent to a probe server (shared/probes/dbsc-chromium): the
# registration proof carries the key in its header; the refresh proof, signed with the same key, not.
CHROMIUM_REGISTRATION = (
    "eyJhbGciOiJFUzI1NiIsImp3ayI6eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6Il95elY3SFgtX3dJTjBFZ2RJUGpuWFVQZWlCalpXZHVy"
    "YlZVRENBWDFhdDgiLCJ5IjoiVU5KU1RmZ216QzkxY3JsZzIwR3hvMTl3VGJoZllFNnQ4RG5ZVUZpMV9MQSJ9LCJ0eXAiOiJkYnNjK2p3dCJ9.eyJq"
    "dGkiOiJhYmMifQ.pGzme6BeMybFxC6lyRvZFtLXYJ_CqQvbeZ0JyyrqevfCkaIlWkOPsqUIzp1AGf0vJ9ujR5pVGhiSHW6wyTUMqQ"
)
CHROMIUM_REFRESH = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6ImRic2Mrand0In0.eyJqdGkiOiJyZWZyZXNoLWNoYWwtNSJ9.OfDcMhrCCnrKMu6nQmEj0MPvS8Y2CRJtrVQ"
    "2hX6gviHpbT3CySx6iVBGMCHHNnIpxx0yaFpIJcAaHWV9h9T6yg"
)
CHROMIUM_JWK = {
    "crv": "P-256",
    "kty": "EC",
    "x": "_yzV7HX-_wIN0EgdIPjnXUPeiBjZWdurbVUDCAX1at8",
    "y": "UNJSTfgmzC91crlg20Gxo19wTbhfYE6t8DnYUFi1_LA",
}

_RSA_KEY = RSAKey.generate_key(2048)


class Device:
    """A browser's device key: signs DBSC proofs (``typ`` dbsc+jwt, ``jti`` the challenge)."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key: Any = ECKey.generate_key("P-256") if alg == "ES256" else _RSA_KEY

    @property
    def jwk(self) -> dict[str, Any]:
        return self.key.as_dict(private=False)  # type: ignore[no-any-return]

    def proof(self, challenge: str, *, registration: bool = False, **header: Any) -> str:
        protected: dict[str, Any] = {"alg": self.alg, "typ": "dbsc+jwt"}
        if registration:
            protected["jwk"] = self.jwk
        protected.update(header)
        protected = {k: v for k, v in protected.items() if v is not None}
        return jws.serialize_compact(protected, json.dumps({"jti": challenge}), self.key, algorithms=[self.alg])

    def signed(self, claims: Any, **header: Any) -> str:
        """A proof with arbitrary claims (any JSON) and header fields."""
        protected = {"alg": self.alg, "typ": "dbsc+jwt", "jwk": self.jwk, **header}
        return jws.serialize_compact(protected, json.dumps(claims), self.key, algorithms=[self.alg])
