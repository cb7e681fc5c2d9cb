"""The binary packets of Protect's private updates websocket.

One websocket message is two frames, each an 8-byte header and a payload:

```
byte 0    frame type: 1 action, 2 data
byte 1    payload format: 1 JSON, 2 UTF-8 text, 3 raw bytes
byte 2    1 when the payload is zlib-deflated
byte 3    reserved (0)
bytes 4-7 payload length, unsigned big-endian
```

The action frame is JSON (``action``: add/update/remove, ``modelKey``,
``id``, ``newUpdateId``); the data frame holds the model's fields (the whole
object for ``add``, the changed fields for ``update``). Decoding is bounded:
a frame may not claim more bytes than the message holds, and a deflated
payload may not inflate past ``max_inflated`` bytes (a zlib bomb stops there).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from camsdk.driver import CameraProtocolError

__all__ = ["ACTION", "DATA", "UpdatePacket", "decode_packet", "encode_packet"]

ACTION = 1
DATA = 2
_JSON, _TEXT, _BYTES = 1, 2, 3
_HEADER = struct.Struct(">BBBBI")
#: Default bound on one inflated payload.
MAX_INFLATED = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UpdatePacket:
    """One decoded update: the action (a dict) and the model data."""

    action: dict[str, Any]
    data: dict[str, Any] | str | bytes = field(default_factory=dict)

    @property
    def model_key(self) -> str:
        """The model the update is about (``camera``, ``event``, ``nvr`` ...)."""
        return str(self.action.get("modelKey", ""))

    @property
    def kind(self) -> str:
        """``add``, ``update`` or ``remove``."""
        return str(self.action.get("action", ""))

    @property
    def id(self) -> str:
        """The id of the model object updated."""
        return str(self.action.get("id", ""))


def _bad(problem: str) -> CameraProtocolError:
    return CameraProtocolError(f"websocket update: {problem}", scheme="unifi")


def _inflate(payload: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(payload, limit + 1)
    except zlib.error as exc:
        raise _bad(f"corrupt deflated payload ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _bad(f"payload inflates beyond {limit} bytes")
    return out


def _frame(message: bytes, offset: int, limit: int) -> tuple[int, int, Any, int]:
    if len(message) - offset < _HEADER.size:
        raise _bad("truncated frame header")
    kind, fmt, deflated, _reserved, size = _HEADER.unpack_from(message, offset)
    start = offset + _HEADER.size
    if size > len(message) - start:
        raise _bad(f"frame claims {size} bytes, {len(message) - start} present")
    payload = bytes(message[start:start + size])
    if deflated == 1:
        payload = _inflate(payload, limit)
    elif deflated != 0:
        raise _bad(f"unknown compression flag {deflated}")
    elif size > limit:
        raise _bad(f"payload of {size} bytes exceeds {limit}")
    value: Any
    if fmt == _JSON:
        try:
            value = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise _bad("payload is not JSON") from None
    elif fmt == _TEXT:
        value = payload.decode("utf-8", "replace")
    elif fmt == _BYTES:
        value = payload
    else:
        raise _bad(f"unknown payload format {fmt}")
    return kind, fmt, value, start + size


def decode_packet(message: bytes, *, max_inflated: int = MAX_INFLATED) -> UpdatePacket:
    """Decode one websocket message; `camsdk.CameraProtocolError` when malformed."""
    kind, _, action, offset = _frame(message, 0, max_inflated)
    if kind != ACTION or not isinstance(action, dict):
        raise _bad("the first frame is not a JSON action")
    kind, _, data, offset = _frame(message, offset, max_inflated)
    if kind != DATA:
        raise _bad("the second frame is not a data frame")
    if offset != len(message):
        raise _bad(f"{len(message) - offset} bytes after the data frame")
    return UpdatePacket(action, data)


def _encode_frame(kind: int, value: Any, compress: bool) -> bytes:
    if isinstance(value, bytes):
        fmt, payload = _BYTES, value
    elif isinstance(value, str):
        fmt, payload = _TEXT, value.encode("utf-8")
    else:
        fmt, payload = _JSON, json.dumps(value, separators=(",", ":")).encode("utf-8")
    if compress:
        payload = zlib.compress(payload)
    return _HEADER.pack(kind, fmt, 1 if compress else 0, 0, len(payload)) + payload


def encode_packet(packet: UpdatePacket, *, compress: bool = False) -> bytes:
    """Encode ``packet`` as the console does (``compress`` deflates both frames)."""
    return _encode_frame(ACTION, packet.action, compress) + _encode_frame(
        DATA, packet.data, compress
    )
