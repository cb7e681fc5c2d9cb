"""Where a Tapo camera's pinned certificate fingerprint is kept.

Tapo cameras serve their local API over HTTPS with a certificate they made
themselves. Turning verification off would let anyone on the path take the
session token (and, on legacy firmware, the MD5 of the password), so camsdk
pins the certificate instead with the kit's `pin_certificate`, as it does
for UniFi consoles: its SHA-256 is stored on first use (per process, or in
``pin_dir`` / ``pin_store``), and every later connection trusts exactly that
certificate. ``fingerprint=`` pins a known one from the start. A camera that
shows another certificate later is refused with `CertificateChangedError`.

Tapo firmware is old-fashioned about TLS (small RSA keys, legacy cipher
suites, connections closed without a TLS close-notify), so the driver asks
the kit for ``legacy_tls``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from camsdk.cloud import FileTokenStore, MemoryTokenStore, TokenSet
from camsdk.driver import CertificateChangedError

__all__ = ["CertificateChangedError", "PinStore", "forget_process_pins"]

_SCHEME = "tapo"
_PROCESS_PINS = MemoryTokenStore()
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


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
