"""The device side of Tapo's secure login and channel, written apart from the driver's.

The simulator checks what a client sends with its own arithmetic (not the
driver's `camsdk.drivers.tapo._crypto`), so a mistake in one is caught by
the other instead of being shared by both ends.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["DeviceChannel", "stored_hash", "device_confirm", "expected_digest"]


def _upper_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


def stored_hash(password: str, kind: str) -> str:
    """How the device keeps the password: MD5 or SHA-256, upper-case hex."""
    raw = password.encode("utf-8")
    if kind == "md5":
        return hashlib.md5(raw).hexdigest().upper()
    return hashlib.sha256(raw).hexdigest().upper()


def device_confirm(stored: str, cnonce: str, nonce: str) -> str:
    """The device's proof that it knows the password."""
    return _upper_sha256(cnonce + stored + nonce) + nonce + cnonce


def expected_digest(stored: str, cnonce: str, nonce: str) -> str:
    """The ``digest_passwd`` a client that knows the password sends."""
    return _upper_sha256(stored + cnonce + nonce) + cnonce + nonce


def _pkcs7(data: bytes) -> bytes:
    pad = 16 - len(data) % 16
    return data + bytes([pad]) * pad


def _unpkcs7(data: bytes) -> bytes:
    pad = data[-1] if data else 0
    if not 1 <= pad <= 16 or data[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    return data[:-pad]


@dataclass(slots=True)
class DeviceChannel:
    """One secure session as the device keeps it."""

    stored: str = field(repr=False)
    cnonce: str = field(repr=False)
    nonce: str = field(repr=False)
    start_seq: int = field(default_factory=lambda: secrets.randbelow(10_000) + 1)
    key: bytes = field(init=False, repr=False)
    iv: bytes = field(init=False, repr=False)
    last_seq: int = field(init=False)

    def __post_init__(self) -> None:
        hashed_key = _upper_sha256(self.cnonce + self.stored + self.nonce)
        self.key = hashlib.sha256(
            ("lsk" + self.cnonce + self.nonce + hashed_key).encode()).digest()[:16]
        self.iv = hashlib.sha256(
            ("ivb" + self.cnonce + self.nonce + hashed_key).encode()).digest()[:16]
        self.last_seq = self.start_seq - 1

    def tag_ok(self, body: bytes, seq_text: str, tag: str) -> bool:
        """Whether ``tag`` signs ``body`` with sequence ``seq_text``, newer than the last."""
        if not seq_text.isdigit() or int(seq_text) <= self.last_seq:
            return False
        seed = _upper_sha256(self.stored + self.cnonce)
        expected = hashlib.sha256(seed.encode() + body + seq_text.encode()).hexdigest().upper()
        if not secrets.compare_digest(expected, tag):
            return False
        self.last_seq = int(seq_text)
        return True

    def open(self, sealed: str) -> bytes:
        """Decrypt a request's ``params.request``."""
        data = base64.b64decode(sealed, validate=True)
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        return _unpkcs7(decryptor.update(data) + decryptor.finalize())

    def seal(self, plain: bytes) -> str:
        """Encrypt an answer into ``result.response``."""
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        return base64.b64encode(encryptor.update(_pkcs7(plain)) + encryptor.finalize()).decode()
