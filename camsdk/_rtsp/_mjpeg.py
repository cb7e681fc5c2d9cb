"""Motion JPEG over RTP (RFC 2435) -> complete baseline JPEG images.

RTP carries only the entropy-coded scan plus a small header (type, Q,
width/8, height/8, fragment offset; restart-marker and quantisation-table
headers when present). The receiver rebuilds the JPEG headers: quantisation
tables from the packet (Q >= 128) or scaled from the standard ones (Q < 128),
the frame header for 4:2:2 (type 0) or 4:2:0 (type 1) YUV, the standard
Huffman tables, and the scan header. Fragments must arrive in order and
without holes; the marker bit ends a picture. Every picture is a keyframe.
"""

from __future__ import annotations

import struct

from ._nal import Emit

__all__ = ["JpegDepacketizer", "jpeg_headers", "scaled_tables"]

MAX_PICTURE = 8 * 1024 * 1024
_MAX_CACHED = 16

# ITU-T T.81 Annex K tables: quantisation in natural order, Huffman as (bits, values).
_LUMA_Q = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)
_CHROMA_Q = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *([99] * 32),
)
_DC_LUMA = (bytes((0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)), bytes(range(12)))
_DC_CHROMA = (bytes((0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)), bytes(range(12)))
_AC_LUMA = (bytes((0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D)), bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718"
    "191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475"
    "767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
    "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"))
_AC_CHROMA = (bytes((0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77)), bytes.fromhex(
    "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125"
    "f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a7374"
    "75767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9ba"
    "c2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa"))


def _zigzag() -> tuple[int, ...]:
    """Natural-order index of each zigzag position of an 8x8 block."""
    order: list[int] = []
    for s in range(15):
        cells = [(y, s - y) for y in range(8) if 0 <= s - y < 8]
        if s % 2 == 0:
            cells.reverse()  # even diagonals run upwards
        order += [y * 8 + x for y, x in cells]
    return tuple(order)


_ZIGZAG = _zigzag()


def scaled_tables(q: int) -> bytes:
    """Luma and chroma tables (zigzag order) for Q 1..99, as RFC 2435 appendix A scales
    the standard ones."""
    factor = min(max(q, 1), 99)
    scale = 5000 // factor if factor < 50 else 200 - factor * 2
    out = bytearray()
    for base in (_LUMA_Q, _CHROMA_Q):
        out += bytes(min(max((base[i] * scale + 50) // 100, 1), 255) for i in _ZIGZAG)
    return bytes(out)


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack("!BBH", 0xFF, marker, len(body) + 2) + body


def jpeg_headers(kind: int, width: int, height: int, tables: bytes, precision: int,
                 restart_interval: int) -> bytes:
    """SOI up to the scan header for an RFC 2435 picture."""
    dqt = b""
    count = 0
    pos = 0
    while pos < len(tables) and count < 4:
        size = 128 if precision & (1 << count) else 64
        dqt += bytes(((1 if size == 128 else 0) << 4 | count,)) + tables[pos : pos + size]
        pos += size
        count += 1
    out = b"\xff\xd8" + _segment(0xDB, dqt)
    if restart_interval:
        out += _segment(0xDD, struct.pack("!H", restart_interval))
    chroma_table = 1 if count > 1 else 0
    sampling = 0x21 if kind & 0x3F == 0 else 0x22
    out += _segment(0xC0, struct.pack("!BHHB", 8, height, width, 3) + bytes(
        (1, sampling, 0, 2, 0x11, chroma_table, 3, 0x11, chroma_table)))
    dht = b""
    for klass, (bits, values) in ((0x00, _DC_LUMA), (0x10, _AC_LUMA), (0x01, _DC_CHROMA),
                                  (0x11, _AC_CHROMA)):
        dht += bytes((klass,)) + bits + values
    out += _segment(0xC4, dht)
    out += _segment(0xDA, bytes((3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)))
    return out


class JpegDepacketizer:
    """RFC 2435 payloads -> one JPEG image per marker bit."""

    __slots__ = ("_header", "_parts", "_size", "_tables", "_ts", "emit", "malformed", "size")

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self._parts: list[bytes] = []
        self._size = 0
        self._ts: int | None = None
        self._header: bytes | None = None
        self._tables: dict[int, tuple[bytes, int]] = {}
        #: Pictures dropped (a fragment missing or malformed).
        self.malformed = 0
        #: Width and height of the last picture, once one was seen.
        self.size: tuple[int, int] | None = None

    def lost(self) -> None:
        """A fragment was lost: the picture being collected is dropped."""
        if self._parts:
            self.malformed += 1
        self._parts = []
        self._size = 0
        self._header = None

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """One RTP payload, ``packet[start:end]``."""
        if timestamp != self._ts:
            if self._parts:
                self.lost()  # the previous picture never got its marker
            self._ts = timestamp
        if end - start < 8:
            self.lost()
            return
        offset = int.from_bytes(packet[start + 1 : start + 4], "big")
        kind, q, width8, height8 = packet[start + 4 : start + 8]
        pos = start + 8
        restart = 0
        if 64 <= kind <= 127:
            if end - pos < 4:
                self.lost()
                return
            restart = int.from_bytes(packet[pos : pos + 2], "big")
            pos += 4
        if offset != self._size:
            self.lost()  # out of order or a fragment is missing
            return
        if offset == 0:
            tables = self._quant_tables(packet, pos, end, q)
            if tables is None:
                self.lost()
                return
            table_data, precision, used = tables
            pos += used
            if (kind & 0x3F) > 1 or not width8 or not height8:
                self.lost()  # only the two standard YUV types; size 0 needs SDP help
                return
            self.size = (width8 * 8, height8 * 8)
            self._header = jpeg_headers(kind, width8 * 8, height8 * 8, table_data, precision,
                                        restart)
        elif self._header is None:
            return  # the start of this picture was never seen
        self._parts.append(packet[pos:end])
        self._size += end - pos
        if self._size > MAX_PICTURE:
            self.lost()
            return
        if marker and self._header is not None:
            data = b"".join(self._parts)
            tail = b"" if data.endswith(b"\xff\xd9") else b"\xff\xd9"
            self.emit(self._header + data + tail, timestamp, True, 0)
            self._parts = []
            self._size = 0
            self._header = None

    def _quant_tables(self, packet: bytes, pos: int, end: int, q: int
                      ) -> tuple[bytes, int, int] | None:
        """(tables, precision bits, header bytes used), or ``None`` when unusable."""
        if q < 128:
            return scaled_tables(q), 0, 0
        if end - pos < 4:
            return None
        precision = packet[pos + 1]
        length = int.from_bytes(packet[pos + 2 : pos + 4], "big")
        if length == 0:  # tables sent before for this Q (not allowed for Q = 255)
            cached = self._tables.get(q)
            return (cached[0], cached[1], 4) if cached is not None and q != 255 else None
        if end - pos < 4 + length or length > 4 * 128:
            return None
        data = packet[pos + 4 : pos + 4 + length]
        if q != 255:
            if len(self._tables) >= _MAX_CACHED:
                self._tables.pop(next(iter(self._tables)))
            self._tables[q] = (data, precision)
        return data, precision, 4 + length
