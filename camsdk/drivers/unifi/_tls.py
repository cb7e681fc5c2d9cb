"""Trusting a console's self-signed certificate by its fingerprint (trust on first use).

UniFi OS consoles serve a self-signed certificate. Turning verification off
would let anyone on the path read the session cookie, so camsdk pins the
certificate instead: the first time a console is seen its certificate is
read (verification off for that one read only), its SHA-256 fingerprint is
stored, and from then on every connection (HTTPS, the event websocket,
RTSPS) uses an `ssl.SSLContext` that trusts exactly that certificate. A
console that later shows another certificate is refused with
`CertificateChangedError` naming both fingerprints.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl

from camsdk.driver import CameraConnectionError, CameraTimeoutError, CameraUnreachableError

__all__ = ["CertificateChangedError", "fingerprint_of", "pinned_context", "read_certificate"]

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: a pinned certificate is trusted for its key,
# and consoles keep serving theirs long after its dates (the pin, not time, is the trust).
_NO_CHECK_TIME = 0x200000


class CertificateChangedError(CameraConnectionError):
    """The console shows another certificate than the one pinned for it.

    ``expected`` and ``seen`` are SHA-256 fingerprints (hex). If the console
    was reset or its certificate replaced on purpose, pass the new one as
    ``fingerprint=`` (or delete the stored pin).
    """

    def __init__(
        self, message: str, *, expected: str, seen: str, scheme: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, scheme=scheme, url=url)
        self.expected = expected
        self.seen = seen


def fingerprint_of(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, lower-case hex."""
    return hashlib.sha256(der).hexdigest()


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def read_certificate(
    host: str, port: int, *, timeout: float, scheme: str, url: str
) -> bytes:
    """The DER certificate ``host:port`` presents (read without verifying: to pin it)."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(
                host, port, ssl=_unverified_context(), server_hostname=host or None,
            )
            tls = writer.get_extra_info("ssl_object")
            der = tls.getpeercert(binary_form=True) if tls is not None else None
    except TimeoutError:
        raise CameraTimeoutError(
            f"reading the console's certificate timed out after {timeout:g} s",
            scheme=scheme, url=url,
        ) from None
    except OSError as exc:
        raise CameraUnreachableError(
            f"could not read the console's certificate ({type(exc).__name__})",
            scheme=scheme, url=url,
        ) from exc
    finally:
        if writer is not None:
            writer.transport.abort()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    if not der:
        raise CameraUnreachableError("the console presented no certificate",
                                     scheme=scheme, url=url)
    return bytes(der)


def pinned_context(der: bytes) -> ssl.SSLContext:
    """A client context that accepts exactly the certificate ``der`` (and no CA).

    The certificate is the only trust anchor (partial chains allowed, so a
    self-signed leaf anchors itself); host names are not checked because
    the pin names the console, and consoles' certificates name
    ``unifi.local`` rather than the address they are reached at.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(der))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | _NO_CHECK_TIME
    return context
