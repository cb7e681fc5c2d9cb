"""Just enough JPEG to size a picture: walk the marker segments to the first SOF.

Decoding a frame to learn its size would cost a full decode per stream open;
the frame header (SOFn) sits in the first few hundred bytes, after the
quantisation and Huffman tables, and says width and height directly.
"""

from __future__ import annotations

from ._errors import CameraProtocolError

__all__ = ["SOI", "jpeg_size", "looks_like_jpeg", "require_jpeg"]

#: Start-of-image marker: every JPEG begins with it.
SOI = b"\xff\xd8"

# SOF0..SOF15 carry the frame header, except DHT (C4), JPG (C8) and DAC (CC),
# which share the range but are tables.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0..7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})
_SOS = 0xDA
_EOI = 0xD9


def looks_like_jpeg(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` starts like a JPEG (the SOI marker)."""
    return bytes(data[:2]) == SOI


def jpeg_size(data: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """``(width, height)`` from the first SOF marker, or ``None`` when there is none.

    Stops at the start of scan: a frame header after it would be malformed,
    and the entropy-coded data that follows must not be walked byte by byte.
    A height of 0 (defined later by a DNL marker) counts as unknown.
    """
    view = memoryview(data)
    end = len(view)
    if end < 4 or view[0] != 0xFF or view[1] != 0xD8:
        return None
    i = 2
    while i + 4 <= end:
        if view[i] != 0xFF:
            return None
        marker = view[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (_SOS, _EOI):
            return None
        length = (view[i + 2] << 8) | view[i + 3]
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            # length(2) precision(1) height(2) width(2)
            if length < 7 or i + 9 > end:
                return None
            height = (view[i + 5] << 8) | view[i + 6]
            width = (view[i + 7] << 8) | view[i + 8]
            return (width, height) if width and height else None
        i += 2 + length
    return None


def require_jpeg(
    data: bytes,
    *,
    content_type: str = "",
    what: str = "snapshot",
    scheme: str | None = None,
    url: str | None = None,
) -> tuple[int, int]:
    """``(width, height)`` of a JPEG a device sent, or `camsdk.CameraProtocolError`.

    Devices answer a snapshot request with an error page, an XML or JSON
    error body, or an empty body now and then, often labelled ``image/jpeg``;
    the magic bytes and the frame header decide, not the label.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if not looks_like_jpeg(data):
        shown = media or "an untyped body"
        raise CameraProtocolError(
            f"{what}: the device sent {shown!r} ({len(data)} bytes), not a JPEG",
            scheme=scheme, url=url,
        )
    size = jpeg_size(data)
    if size is None:
        raise CameraProtocolError(
            f"{what}: the JPEG has no frame header", scheme=scheme, url=url
        )
    return size
