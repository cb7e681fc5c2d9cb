"""TLS for a gateway reachable beyond this machine.

``tls = "self-signed"`` makes (once, in the data directory) an ECDSA P-256
certificate for the bind address and ``localhost``, valid for a year past
its last renewal; its SHA-256 fingerprint is printed at start and shown on
the owner page, so a browser's warning can be checked against it.
``tls = "files"`` uses the owner's certificate and key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .._private_file import write_private

__all__ = ["certificate_fingerprint", "self_signed_certificate"]

_RENEW_BEFORE = dt.timedelta(days=30)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """``AB:CD:...``: the SHA-256 of the certificate's DER form."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def self_signed_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """``(cert, key)`` files in ``directory``, made or renewed when needed."""
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    now = dt.datetime.now(dt.UTC)
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc - now > _RENEW_BEFORE:
            return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "camsdk gateway")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
