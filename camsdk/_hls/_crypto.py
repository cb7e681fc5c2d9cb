"""AES-128 segments (RFC 8216 4.3.2.4): CBC with PKCS#7 padding, keys cached per URI."""

from __future__ import annotations

import collections

from .._errors import StreamDecodeError, UnsupportedCapabilityError
from ._playlist import Key

__all__ = ["KeyCache", "check_method", "decrypt_aes128", "segment_iv"]

KEY_BYTES = 16


def check_method(key: Key | None) -> None:
    """Raise `UnsupportedCapabilityError` for encryption camsdk cannot remove.

    ``SAMPLE-AES`` (and its CTR form, and any key format but ``identity``)
    encrypts samples inside the media for DRM systems; only whole-segment
    ``AES-128`` with a plain key is decrypted.
    """
    if key is None:
        return
    if key.method != "AES-128":
        raise UnsupportedCapabilityError(
            f"HLS segments encrypted with METHOD={key.method} are not supported "
            "(only AES-128 whole-segment encryption is)"
        )
    if key.keyformat != "identity":
        raise UnsupportedCapabilityError(
            f"HLS keys of KEYFORMAT={key.keyformat!r} (a DRM system) are not supported"
        )


def segment_iv(key: Key, sequence: int) -> bytes:
    """The key's explicit IV, or the media sequence number as a 128-bit big-endian IV."""
    return key.iv if key.iv is not None else sequence.to_bytes(16, "big")


def decrypt_aes128(data: bytes, key: bytes, iv: bytes) -> bytes:
    """Decrypt one AES-128-CBC segment and strip its PKCS#7 padding (blocking; a worker's job).

    A body that is not whole blocks, or whose padding is wrong (the wrong
    key, a truncated download), raises `StreamDecodeError`.
    """
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(key) != KEY_BYTES or len(iv) != 16:
        raise StreamDecodeError("an AES-128 key and IV are 16 bytes each")
    if not data or len(data) % 16:
        raise StreamDecodeError(
            f"an AES-128 segment of {len(data)} bytes is not a whole number of blocks"
        )
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes((pad,)) * pad:
        raise StreamDecodeError("an AES-128 segment did not decrypt (wrong key or truncated)")
    return plain[:-pad]


class KeyCache:
    """The last few keys, by URI (live streams rotate keys; the cache stays bounded)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: collections.OrderedDict[str, bytes] = collections.OrderedDict()

    def get(self, uri: str) -> bytes | None:
        """The key fetched from ``uri``, if it is still cached."""
        key = self._keys.get(uri)
        if key is not None:
            self._keys.move_to_end(uri)
        return key

    def put(self, uri: str, key: bytes) -> None:
        """Remember ``key``; the least recently used one leaves when the cache is full."""
        self._keys[uri] = key
        self._keys.move_to_end(uri)
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyCache({len(self._keys)} of {self._size})"
