"""The arithmetic of Tapo's local login and its encrypted channel (client side).

Passwords are never sent. The device knows the password hashed one of two
ways, upper-case hex of MD5 (older firmware) or of SHA-256 (newer);
`hashed_password` gives either.

- **Legacy login** (``hashed: true``): the MD5 form is the ``password`` param.
- **Secure login** (``encrypt_type`` 3): the client sends a random
  ``cnonce``; the device answers its ``nonce`` and a ``device_confirm`` that
  proves it knows the password: ``SHA256(cnonce + H + nonce)`` (upper hex)
  followed by ``nonce`` and ``cnonce``, with H the hashed password. Checking
  it against both hash forms tells the client which one the device uses and,
  when neither matches, that the password is wrong (before anything that
  could count as a failed attempt is sent). The client then proves itself
  with ``digest_passwd``: ``SHA256(H + cnonce + nonce)`` followed by
  ``cnonce`` and ``nonce``.
- **The channel** after a secure login: every request is wrapped as
  ``securePassthrough`` with the inner JSON encrypted by AES-128-CBC
  (PKCS#7 padding). Key and IV are the first 16 bytes of
  ``SHA256(label + cnonce + nonce + SHA256(cnonce + H + nonce))`` with the
  labels ``lsk`` and ``ivb``. Each request carries a ``Seq`` header (from the
  login's ``start_seq``, plus one per request) and a ``Tapo_tag`` header:
  ``SHA256(SHA256(H + cnonce) + body + seq)`` in upper hex, over the exact
  body bytes sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "HashKind",
    "SecureChannel",
    "confirm_kind",
    "digest_password",
    "hashed_password",
    "new_cnonce",
]

HashKind = Literal["md5", "sha256"]


def _sha256_hex(*parts: str) -> str:
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest().upper()


def hashed_password(password: str, kind: HashKind) -> str:
    """The password as the device stores it: upper-case hex of MD5 or SHA-256."""
    data = password.encode("utf-8")
    digest = hashlib.md5(data) if kind == "md5" else hashlib.sha256(data)
    return digest.hexdigest().upper()


def new_cnonce() -> str:
    """A fresh client nonce: 8 random bytes as 16 upper-case hex digits."""
    return secrets.token_hex(8).upper()


def confirm_kind(password: str, cnonce: str, nonce: str, device_confirm: str) -> HashKind | None:
    """Which hash of ``password`` the device's ``device_confirm`` proves, or None (wrong)."""
    kinds: tuple[HashKind, ...] = ("sha256", "md5")
    for kind in kinds:
        hashed = hashed_password(password, kind)
        expected = _sha256_hex(cnonce, hashed, nonce) + nonce + cnonce
        if hmac.compare_digest(expected.encode(), device_confirm.encode("utf-8", "replace")):
            return kind
    return None


def digest_password(hashed: str, cnonce: str, nonce: str) -> str:
    """The ``digest_passwd`` of the second secure-login request."""
    return _sha256_hex(hashed, cnonce, nonce) + cnonce + nonce


def _derive(label: str, hashed: str, cnonce: str, nonce: str) -> bytes:
    inner = _sha256_hex(cnonce, hashed, nonce)
    return hashlib.sha256(f"{label}{cnonce}{nonce}{inner}".encode()).digest()[:16]


@dataclass(slots=True)
class SecureChannel:
    """The keys and sequence counter of one secure session (see the module docstring)."""

    hashed: str = field(repr=False)
    cnonce: str = field(repr=False)
    nonce: str = field(repr=False)
    seq: int
    key: bytes = field(init=False, repr=False)
    iv: bytes = field(init=False, repr=False)
    _tag_seed: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.key = _derive("lsk", self.hashed, self.cnonce, self.nonce)
        self.iv = _derive("ivb", self.hashed, self.cnonce, self.nonce)
        self._tag_seed = _sha256_hex(self.hashed, self.cnonce)

    def encrypt(self, plain: bytes) -> bytes:
        """AES-128-CBC with PKCS#7 padding."""
        padder = padding.PKCS7(128).padder()
        data = padder.update(plain) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        return encryptor.update(data) + encryptor.finalize()

    def decrypt(self, data: bytes) -> bytes:
        """The plaintext of ``data``; `ValueError` when it is not a whole padded message."""
        if not data or len(data) % 16:
            raise ValueError("ciphertext is not a whole number of AES blocks")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()

    def tag(self, body: bytes, seq: int) -> str:
        """The ``Tapo_tag`` header of ``body`` sent with sequence number ``seq``."""
        digest = hashlib.sha256(self._tag_seed.encode() + body + str(seq).encode())
        return digest.hexdigest().upper()

    def next_seq(self) -> int:
        """The sequence number of the next request (and count it)."""
        seq = self.seq
        self.seq += 1
        return seq
