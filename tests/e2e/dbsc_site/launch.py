"""Helpers that start tests/e2e/dbsc_site: a self-signed certificate, the servers' environment, the migration."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.servers import REPO, run


def self_signed(directory: Path) -> tuple[Path, Path, str]:
    """A certificate for localhost and 127.0.0.1, its key, and the base64 SHA-256 of its SPKI."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def site_env(root: Path, log: Path, name: str, cookie_age: int, **more: str) -> dict[str, str]:
    """The environment of a server of tests/e2e/dbsc_site."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DBSC_SITE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.e2e.dbsc_site.settings",
        DBSC_SITE_ROOT=str(root),
        DBSC_SITE_LOG=str(log),
        DBSC_SITE_NAME=name,
        DBSC_SITE_COOKIE_AGE=str(cookie_age),
        PYTHONPATH=str(REPO),
        **more,
    )
    env.pop("PYTHONDEVMODE", None)
    return env


def migrate(env: dict[str, str]) -> None:
    run([sys.executable, "-m", "django", "migrate", "--noinput", "--verbosity", "0"], "migrate the DBSC site",
        env=env, cwd=REPO)
