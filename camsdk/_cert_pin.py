"""Trusting a device's self-signed certificate by its fingerprint (trust on first use).

Cameras and consoles serve HTTPS with certificates they made themselves.
Turning verification off would let anyone on the path read the session
token, so a driver pins the certificate instead: the first time a device is
seen its certificate is read (verification off for that one read, nothing
sent), its SHA-256 fingerprint is stored, and from then on every connection
uses an `ssl.SSLContext` that trusts exactly that certificate. A configured
fingerprint pins a known one from the start. A device that later shows
another certificate is refused with `CertificateChangedError` naming both
fingerprints.

- `pin_certificate` is the whole first-use flow; the driver says where its
  pins live (``load``/``save``, e.g. an account in a `camsdk.cloud` token
  store).
- `pinned_context` is the context for a known certificate;
  `certificate_fingerprint` names one; `Sha256Fingerprint` is the type of
  a driver option that pins one.

``legacy_tls`` is for old firmware (small RSA keys, legacy cipher suites,
connections closed without a TLS close-notify): OpenSSL security level 1
and a missing close-notify ignored. The pin, not the cipher strength, is
what says the peer is the device.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Annotated

from pydantic import AfterValidator

from ._errors import CameraConnectionError, CameraTimeoutError, CameraUnreachableError
from ._log import get_logger

__all__ = [
    "CertificateChangedError",
    "Sha256Fingerprint",
    "certificate_fingerprint",
    "pin_certificate",
    "pinned_context",
    "read_certificate",
]

log = get_logger("camsdk.tls")

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the pin is the trust, and devices keep their
# certificate long after its dates (or with a clock that never synced).
_NO_CHECK_TIME = 0x200000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class CertificateChangedError(CameraConnectionError):
    """The device shows another certificate than the one pinned for it.

    ``expected`` and ``seen`` are SHA-256 fingerprints (hex). After a reset
    the device makes a new certificate: pass it as ``fingerprint=`` (or
    delete the stored pin).
    """

    def __init__(
        self, message: str, *, expected: str, seen: str, scheme: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, scheme=scheme, url=url)
        self.expected = expected
        self.seen = seen


def _fingerprint_text(value: str) -> str:
    cleaned = value.replace(":", "").strip().lower()
    if not _HEX64.match(cleaned):
        raise ValueError("fingerprint must be 64 hex digits (SHA-256), colons allowed")
    return cleaned


#: A driver option holding a SHA-256 certificate fingerprint: 64 hex digits, colons
#: and upper case allowed on input, kept as lower-case hex without colons.
Sha256Fingerprint = Annotated[str, AfterValidator(_fingerprint_text)]


def certificate_fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, lower-case hex."""
    return hashlib.sha256(der).hexdigest()


def _legacy_friendly(context: ssl.SSLContext) -> None:
    context.set_ciphers("DEFAULT:@SECLEVEL=1")
    context.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)


def _unverified_context(legacy_tls: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if legacy_tls:
        _legacy_friendly(context)
    return context


async def read_certificate(
    host: str, port: int, *, timeout: float, scheme: str, url: str,
    device: str = "camera", legacy_tls: bool = False,
) -> bytes:
    """The DER certificate ``host:port`` presents (read without verifying: to pin it).

    ``device`` names the peer in error messages ("camera", "console").
    """
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(
                host, port, ssl=_unverified_context(legacy_tls), server_hostname=host or None,
            )
            tls = writer.get_extra_info("ssl_object")
            der = tls.getpeercert(binary_form=True) if tls is not None else None
    except TimeoutError:
        raise CameraTimeoutError(
            f"reading the {device}'s certificate timed out after {timeout:g} s",
            scheme=scheme, url=url,
        ) from None
    except OSError as exc:  # ssl.SSLError included
        raise CameraUnreachableError(
            f"could not read the {device}'s certificate ({type(exc).__name__})",
            scheme=scheme, url=url,
        ) from exc
    finally:
        if writer is not None:
            writer.transport.abort()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    if not der:
        raise CameraUnreachableError(
            f"the {device} presented no certificate", scheme=scheme, url=url)
    return bytes(der)


def pinned_context(der: bytes, *, legacy_tls: bool = False) -> ssl.SSLContext:
    """A client context that accepts exactly the certificate ``der`` (and no CA).

    The certificate is the only trust anchor (partial chains allowed, so a
    self-signed leaf anchors itself); host names are not checked because the
    pin names the device, and such certificates name ``unifi.local`` or
    nothing rather than the address the device is reached at.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(der))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | _NO_CHECK_TIME
    if legacy_tls:
        _legacy_friendly(context)
    return context


async def pin_certificate(
    host: str,
    port: int,
    *,
    fingerprint: str | None,
    load: Callable[[], Awaitable[str | None]],
    save: Callable[[str], Awaitable[None]],
    timeout: float,
    scheme: str,
    url: str,
    device: str = "camera",
    renewed: str = "after a reset",
    legacy_tls: bool = False,
) -> tuple[str, ssl.SSLContext]:
    """The fingerprint of ``host:port``'s certificate and a context trusting exactly it.

    The certificate must match ``fingerprint`` (configured) or else the one
    ``load()`` returns (pinned earlier); with neither, it is pinned now with
    ``save(fingerprint)``. A mismatch is a `CertificateChangedError` whose
    message says ``renewed`` (when a new certificate is expected, e.g.
    "after a factory reset") pass ``fingerprint=<new>``. ``url`` is the
    redacted URL errors and the log show.
    """
    der = await read_certificate(
        host, port, timeout=timeout, scheme=scheme, url=url, device=device,
        legacy_tls=legacy_tls,
    )
    seen = certificate_fingerprint(der)
    expected = fingerprint or await load()
    if expected is not None and expected != seen:
        raise CertificateChangedError(
            f"the {device}'s certificate changed: pinned sha256 {expected}, presented sha256 "
            f"{seen}; {renewed} pass fingerprint=<new> (or delete the stored pin)",
            expected=expected, seen=seen, scheme=scheme, url=url)
    if expected is None:
        await save(seen)
        log.info("pinned the certificate of %s (sha256 %s) on first use", url, seen)
    return seen, pinned_context(der, legacy_tls=legacy_tls)
