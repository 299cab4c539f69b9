"""Run DBSC in Debian's headless Chromium against a site on loopback: the certificate and the switches.

Used by the demo's step g (``demo_dbsc.py``, ``demo.sh``) and by the browser tests in tests/e2e.
Standard library and ``cryptography`` only (the ``[dbsc]`` extra brings it).

Chromium ignores DBSC over plain HTTP and with ``--ignore-certificate-errors``; it runs the whole
exchange over HTTPS with a self-signed certificate accepted through
``--ignore-certificate-errors-spki-list`` (found by the probe in shared/probes/dbsc-chromium with
Chromium 156). On the command line::

    python dbsc_chromium.py certificate DIRECTORY   # writes cert.pem and key.pem, prints the SPKI hash
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CHROMIUM = "/usr/bin/chromium"
# DBSC without origin-trial tokens or refresh quota, with software keys (Linux has no TPM-backed
# keys in Chromium), and its DevTools events.
FEATURES = (
    "DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false,"
    "EnableBoundSessionCredentialsSoftwareKeysForManualTesting,DeviceBoundSessionsDevTools"
)


def chromium_args(spki: str) -> list[str]:
    """Chromium's switches for DBSC against a site whose certificate's SPKI hash is ``spki`` (base64 SHA-256)."""
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--enable-features={FEATURES}",
        f"--ignore-certificate-errors-spki-list={spki}",
    ]


def self_signed(directory: Path) -> tuple[Path, Path, str]:
    """Write ``cert.pem`` and ``key.pem`` into ``directory``: a certificate for localhost and 127.0.0.1.

    Returns (certificate path, key path, base64 SHA-256 of its SubjectPublicKeyInfo). Valid for one
    day; a CA certificate of itself, so that ``ssl.create_default_context(cafile=cert)`` trusts it.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "certificate":
        print("usage: python dbsc_chromium.py certificate DIRECTORY", file=sys.stderr)
        return 2
    print(self_signed(Path(argv[1]))[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
