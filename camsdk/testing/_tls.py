"""Self-signed certificates for every TLS simulator (and for tests that need one).

Cameras and consoles ship with a self-signed certificate whose name is not
the address a client dials (``unifi.local``, ``tapo.local``); tests of plain
TLS servers want one naming ``127.0.0.1``. One helper makes both: a fresh
EC key, a certificate valid from a few minutes ago, the server context, and
the certificate's DER for pinning or for a client context that trusts it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import ssl
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

__all__ = ["SelfSignedCertificate", "self_signed_tls"]


class SelfSignedCertificate(NamedTuple):
    """A server context and its certificate (DER); unpacks as ``(server, der)``."""

    server: ssl.SSLContext
    der: bytes

    @property
    def sha256(self) -> str:
        """The certificate's SHA-256 fingerprint (hex), as drivers pin it."""
        return hashlib.sha256(self.der).hexdigest()

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate and nothing else (names checked)."""
        return ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(self.der))


def self_signed_tls(name: str = "camsdk.local", *,
                    addresses: Iterable[str] = ()) -> SelfSignedCertificate:
    """A fresh self-signed certificate for ``name`` (and IP ``addresses``) with its server context.

    Without ``addresses`` the certificate names only ``name``, as a device's
    does, so a client dialling 127.0.0.1 must pin it or skip the name check;
    with ``addresses=["127.0.0.1"]`` `SelfSignedCertificate.client_context`
    verifies it fully.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    alt_names: list[x509.GeneralName] = [x509.DNSName(name)]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        # A trust anchor for the client context that trusts only this certificate.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    # ssl loads a chain only from files: they live only as long as the load.
    with tempfile.TemporaryDirectory(prefix="camsdk-tls-") as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
    return SelfSignedCertificate(context, cert.public_bytes(serialization.Encoding.DER))
