"""Ed25519 keys and the canonical JSON that grants and audit checkpoints sign.

Keys are read from and written to PEM (PKCS#8 private, SubjectPublicKeyInfo
public) or raw form: the 32 key bytes, as a binary file or as hex or base64
text. Canonical JSON is sorted keys, no whitespace, UTF-8: the same value
always gives the same bytes, so a signature made in one process verifies in
another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "canonical_json",
    "generate_signing_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "save_private_key",
    "save_public_key",
    "sign_bytes",
    "verify_bytes",
]

_RAW_LEN = 32
_K = TypeVar("_K", Ed25519PrivateKey, Ed25519PublicKey)


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` to canonical JSON bytes (sorted keys, compact, UTF-8)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def generate_signing_key() -> Ed25519PrivateKey:
    """Create a new Ed25519 private key (for grants and audit checkpoints)."""
    return Ed25519PrivateKey.generate()


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """A short fingerprint of a key: the first 16 hex digits of SHA-256 of its raw public bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_bytes(private_key: Ed25519PrivateKey, payload: bytes) -> str:
    """Sign ``payload``; return the signature as URL-safe base64 text."""
    return base64.urlsafe_b64encode(private_key.sign(payload)).decode("ascii")


def verify_bytes(public_key: Ed25519PublicKey, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` (URL-safe base64) is ``public_key``'s signature of ``payload``."""
    try:
        raw = base64.urlsafe_b64decode(signature.encode("ascii"))
        public_key.verify(raw, payload)
    except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError):
        return False
    return True


def _read_key_material(source: str | os.PathLike[str] | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def _raw_from_text(data: bytes) -> bytes | None:
    """Decode 32 raw key bytes given as hex or base64 text, else ``None``."""
    text = data.strip()
    try:
        if len(text) == 2 * _RAW_LEN:
            return bytes.fromhex(text.decode("ascii"))
        raw = base64.b64decode(text.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return raw if len(raw) == _RAW_LEN else None


def _load_key(
    source: str | os.PathLike[str] | bytes,
    what: str,
    from_pem: Callable[[bytes], _K | None],
    from_raw: Callable[[bytes], _K],
) -> _K:
    """Shared reading of PEM or raw key material; ``from_pem`` gives None for a non-Ed25519 key."""
    data = _read_key_material(source)
    if data.lstrip().startswith(b"-----BEGIN"):
        key = from_pem(data)
        if key is None:
            raise ValueError(f"the PEM key is not an Ed25519 {what} key")
        return key
    raw = data if len(data) == _RAW_LEN else _raw_from_text(data)
    if raw is None:
        raise ValueError(f"not an Ed25519 {what} key (expected PEM or 32 raw bytes)")
    return from_raw(raw)


def load_private_key(
    source: str | os.PathLike[str] | bytes, *, password: bytes | None = None
) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a file path or bytes (PEM, or raw 32 bytes/hex/base64).

    Raises `ValueError` when the material is not an Ed25519 private key.
    """

    def from_pem(pem: bytes) -> Ed25519PrivateKey | None:
        key = serialization.load_pem_private_key(pem, password=password)
        return key if isinstance(key, Ed25519PrivateKey) else None

    return _load_key(source, "private", from_pem, Ed25519PrivateKey.from_private_bytes)


def load_public_key(source: str | os.PathLike[str] | bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a file path or bytes (PEM, or raw 32 bytes/hex/base64).

    Raises `ValueError` when the material is not an Ed25519 public key.
    """

    def from_pem(pem: bytes) -> Ed25519PublicKey | None:
        key = serialization.load_pem_public_key(pem)
        return key if isinstance(key, Ed25519PublicKey) else None

    return _load_key(source, "public", from_pem, Ed25519PublicKey.from_public_bytes)


def save_private_key(
    key: Ed25519PrivateKey, path: str | os.PathLike[str], *, password: bytes | None = None
) -> None:
    """Write ``key`` as PKCS#8 PEM, readable by the owner only (mode 0600)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    # Create with 0600 from the start so the key is never briefly world-readable.
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def save_public_key(
    key: Ed25519PublicKey | Ed25519PrivateKey, path: str | os.PathLike[str]
) -> None:
    """Write the public half of ``key`` as SubjectPublicKeyInfo PEM."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    Path(path).write_bytes(pem)
