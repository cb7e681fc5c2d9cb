"""Trusting a Tapo camera's self-signed HTTPS certificate by its fingerprint.

Tapo cameras serve their local API over HTTPS with a certificate they made
themselves. Turning verification off would let anyone on the path take the
session token (and, on legacy firmware, the MD5 of the password), so camsdk
pins the certificate instead, as it does for UniFi consoles: the first time
a camera is seen its certificate is read (verification off for that one
read, nothing sent), its SHA-256 is stored (per process, or in ``pin_dir`` /
``pin_store``), and every later connection trusts exactly that certificate.
``fingerprint=`` pins a known one from the start. A camera that shows
another certificate later is refused with `CertificateChangedError`.

Tapo firmware is old-fashioned about TLS: small RSA keys and legacy cipher
suites on some models, and connections closed without a TLS close-notify.
The pinned context therefore allows OpenSSL security level 1 (RSA keys of
1024 bits and up) and ignores a missing close-notify; the pin, not the
cipher strength, is what says the peer is the camera.

The kit should offer this (UniFi has the same code); see the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import ssl
from typing import Any

from camsdk.cloud import FileTokenStore, MemoryTokenStore, TokenSet
from camsdk.driver import CameraConnectionError, CameraTimeoutError, CameraUnreachableError

__all__ = [
    "CertificateChangedError",
    "PinStore",
    "fingerprint_of",
    "forget_process_pins",
    "pinned_context",
    "read_certificate",
]

_SCHEME = "tapo"
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the pin is the trust, and cameras keep their
# certificate long after its dates (or with a clock that never synced).
_NO_CHECK_TIME = 0x200000
_PROCESS_PINS = MemoryTokenStore()
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


class CertificateChangedError(CameraConnectionError):
    """The camera shows another certificate than the one pinned for it.

    ``expected`` and ``seen`` are SHA-256 fingerprints (hex). After a factory
    reset the camera makes a new certificate: pass it as ``fingerprint=``
    (or delete the stored pin).
    """

    def __init__(self, message: str, *, expected: str, seen: str, scheme: str | None = None,
                 url: str | None = None) -> None:
        super().__init__(message, scheme=scheme, url=url)
        self.expected = expected
        self.seen = seen


def fingerprint_of(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, lower-case hex."""
    return hashlib.sha256(der).hexdigest()


def _legacy_friendly(context: ssl.SSLContext) -> None:
    context.set_ciphers("DEFAULT:@SECLEVEL=1")
    context.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _legacy_friendly(context)
    return context


async def read_certificate(host: str, port: int, *, timeout: float, url: str) -> bytes:
    """The DER certificate ``host:port`` presents (read without verifying, to pin it)."""
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
            f"reading the camera's certificate timed out after {timeout:g} s",
            scheme=_SCHEME, url=url,
        ) from None
    except (OSError, ssl.SSLError) as exc:
        raise CameraUnreachableError(
            f"could not read the camera's certificate ({type(exc).__name__})",
            scheme=_SCHEME, url=url,
        ) from exc
    finally:
        if writer is not None:
            writer.transport.abort()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    if not der:
        raise CameraUnreachableError("the camera presented no certificate", scheme=_SCHEME,
                                     url=url)
    return bytes(der)


def pinned_context(der: bytes) -> ssl.SSLContext:
    """A client context that accepts exactly the certificate ``der`` (and no CA).

    Host names are not checked: the pin names the camera, and Tapo
    certificates name no address.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(der))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | _NO_CHECK_TIME
    _legacy_friendly(context)
    return context


class PinStore:
    """Where the pinned fingerprint of one camera lives (a `camsdk.cloud` token store)."""

    def __init__(self, host: str, port: int, *, store: Any = None,
                 directory: str | None = None) -> None:
        if store is not None:
            self.store = store
        elif directory is not None:
            self.store = FileTokenStore(directory)
        else:
            self.store = _PROCESS_PINS
        text = f"pin-{host.lower()}-{port}"
        readable = _UNSAFE.sub("_", text)[:80]
        self.account = f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"

    async def load(self) -> str | None:
        """The pinned fingerprint, or None before the first use."""
        tokens = await self.store.load(_SCHEME, self.account)
        return tokens.extra.get("sha256") if tokens is not None else None

    async def save(self, fingerprint: str) -> None:
        """Pin ``fingerprint``."""
        await self.store.save(TokenSet(scheme=_SCHEME, account=self.account,
                                       extra={"sha256": fingerprint}))


def forget_process_pins() -> None:
    """Drop every pin kept in this process (tests: each starts with none)."""
    global _PROCESS_PINS
    _PROCESS_PINS = MemoryTokenStore()
