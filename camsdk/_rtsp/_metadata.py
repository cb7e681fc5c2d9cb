"""ONVIF metadata over RTP (``vnd.onvif.metadata``): XML documents, one per marker.

The payloads of one document are concatenated until the marker bit; a
document larger than `MAX_DOCUMENT` is dropped (and everything up to the
next marker with it), as is one that lost a packet.
"""

from __future__ import annotations

from ._nal import Emit

__all__ = ["MAX_DOCUMENT", "MetadataDepacketizer"]

MAX_DOCUMENT = 1024 * 1024


class MetadataDepacketizer:
    """Concatenates payloads into documents; the marker bit ends each one."""

    __slots__ = ("_broken", "_parts", "_size", "dropped", "emit")

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self._parts: list[bytes] = []
        self._size = 0
        self._broken = False
        #: Documents dropped (too large, or a packet of them was lost).
        self.dropped = 0

    def lost(self) -> None:
        """A packet was lost: the document being collected is incomplete."""
        self._broken = True

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """One RTP payload, ``packet[start:end]``."""
        if not self._broken:
            self._size += end - start
            if self._size > MAX_DOCUMENT:
                self._broken = True
                self._parts = []
            else:
                self._parts.append(packet[start:end])
        if marker:
            if self._broken:
                self.dropped += 1
            elif self._parts:
                self.emit(b"".join(self._parts), timestamp, True, 0)
            self._parts = []
            self._size = 0
            self._broken = False
