"""Remove each rule of ``verify_proof`` once and check that ``tests/test_dpop.py`` then fails.

Run from the checkout root: ``python tests/rule_removal.py``. It edits ``restricted_sessions/dpop.py``
in place for each run and always restores it; exit status 1 when some rule's removal went unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULE = Path("restricted_sessions/dpop.py")
# (rule, code that enforces it, the same code without the rule)
REMOVALS = [
    ("size cap", "if len(proof) > MAX_PROOF_LENGTH:", "if False:"),
    ("one header", 'if "," in proof:', "if False:"),
    ("compact", "if _COMPACT_JWS.fullmatch(proof) is None:", "if False:"),
    ("duplicates", "    if len(value) != len(pairs):", "    if False:"),
    (
        "no NaN",
        "_JSON = json.JSONDecoder(object_pairs_hook=_unique_names, parse_constant=_no_constant)",
        "_JSON = json.JSONDecoder(object_pairs_hook=_unique_names)",
    ),
    ("typ", 'if header.get("typ") != PROOF_TYPE:', "if False:"),
    ("header json", "    if header is None:", "    if False:"),
    ("claims json", "    if claims is None:", "    if False:"),
    (
        "alg str",
        "if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:",
        "if alg not in SUPPORTED_ALGORITHMS:",
    ),
    ("alg allow-list", "    if alg not in algorithms:", "    if False:"),
    (
        "alg supported",
        "if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:",
        "if not isinstance(alg, str):",
    ),
    ("crit", 'if "crit" in header:', "if False:"),
    ("jwk object", "if not isinstance(jwk, dict):", "if False:"),
    ("private members", "if not _PRIVATE_MEMBERS.isdisjoint(jwk):", "if False:"),
    ("kty/crv", 'if jwk.get("kty") != kty or jwk.get("crv") != crv:', "if False:"),
    ("coordinates", '            return "The DPoP proof\'s jwk coordinates are malformed."', "            pass"),
    (
        "valid key",
        "ValueError, TypeError):\n        return \"The DPoP proof's jwk is not",
        "ArithmeticError):\n        return \"The DPoP proof's jwk is not",
    ),
    ("jti", "if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:", "if False:"),
    ("htm", 'if claims.get("htm") != method:', "if False:"),
    ("htu", "if not isinstance(htu, str) or expected_htu is None or normalise_uri(htu) != expected_htu:", "if False:"),
    (
        "iat type",
        "if isinstance(iat, bool) or not isinstance(iat, int | float) or not 0 <= iat <= MAX_IAT:",
        "if False:",
    ),
    (
        "iat bool",
        "if isinstance(iat, bool) or not isinstance(iat, int | float) or not 0 <= iat <= MAX_IAT:",
        "if not isinstance(iat, int | float) or not 0 <= iat <= MAX_IAT:",
    ),
    (
        "iat range",
        "if isinstance(iat, bool) or not isinstance(iat, int | float) or not 0 <= iat <= MAX_IAT:",
        "if isinstance(iat, bool) or not isinstance(iat, int | float):",
    ),
    ("iat window", "if abs(now - iat) > iat_leeway:", "if False:"),
    ("iat past", "if abs(now - iat) > iat_leeway:", "if iat - now > iat_leeway:"),
    ("iat future", "if abs(now - iat) > iat_leeway:", "if now - iat > iat_leeway:"),
    ("ath", 'if session_key and claims.get("ath") != access_token_hash(session_key):', "if False:"),
    ("nonce type", "if nonce is not None and not isinstance(nonce, str):", "if False:"),
    (
        "signature",
        "if not _signature_verifies(alg, key, header_segment, claims_segment, signature_segment):",
        "if False:",
    ),
    (
        "nonce required",
        "if nonce_required and (nonce is None or nonce_ok is None or not nonce_ok(nonce)):",
        "if False:",
    ),
    (
        "nonce_ok",
        "if nonce_required and (nonce is None or nonce_ok is None or not nonce_ok(nonce)):",
        "if nonce_required and (nonce is None or nonce_ok is None):",
    ),
]


def main() -> int:
    original = MODULE.read_text()
    unnoticed = []
    try:
        for rule, code, without in REMOVALS:
            assert original.count(code) == 1, f"{rule}: the code to remove is not found once"
            MODULE.write_text(original.replace(code, without))
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_dpop.py"],
                capture_output=True,
                text=True,
                check=False,
            )
            failed = next((line for line in run.stdout.splitlines() if line.startswith("FAILED")), "")
            print(f"{rule}: {'noticed' if run.returncode else 'UNNOTICED'} {failed}", flush=True)
            if run.returncode == 0:
                unnoticed.append(rule)
    finally:
        MODULE.write_text(original)
    print("unnoticed:", unnoticed or "none")
    return 1 if unnoticed else 0


if __name__ == "__main__":
    sys.exit(main())
