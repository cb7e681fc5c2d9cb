"""Motion JPEG (RFC 2435): pictures rebuilt from RTP decode exactly like the originals."""

from __future__ import annotations

import struct
from fractions import Fraction
from typing import Any

import av
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk._rtsp._mjpeg import JpegDepacketizer, jpeg_headers, scaled_tables
from camsdk._rtsp._sdp import MediaDescription
from camsdk._rtsp._tracks import make_depacketizer


def encode_jpeg(pix_fmt: str, width: int = 96, height: int = 64) -> bytes:
    ctx: Any = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
    ctx.time_base = Fraction(1, 25)
    ctx.options = {"huffman": "default"}  # RFC 2435 pictures use the standard tables
    frame = av.VideoFrame.from_ndarray(
        (np.arange(width * height * 3) % 251).astype(np.uint8).reshape(height, width, 3), "rgb24"
    ).reformat(format=pix_fmt)
    frame.pts = 0
    return b"".join(bytes(p) for p in ctx.encode(frame))


def segments(jpeg: bytes) -> tuple[dict[int, bytes], bytes]:
    """Marker segments before the scan, and the entropy-coded scan."""
    found: dict[int, bytes] = {}
    pos = 2
    while True:
        marker = jpeg[pos + 1]
        length = int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        found[marker] = found.get(marker, b"") + jpeg[pos + 4 : pos + 2 + length]
        pos += 2 + length
        if marker == 0xDA:
            return found, jpeg[pos:]


def rtp_payloads(jpeg: bytes, kind: int, size: int = 700) -> list[bytes]:
    """Packetise a baseline JPEG as RFC 2435 does, tables in band (Q = 255)."""
    found, scan = segments(jpeg)
    sof = found[0xC0]
    height, width = struct.unpack("!HH", sof[1:5])
    tables = b"".join(t[1:65] for t in (found[0xDB][i : i + 65]
                                        for i in range(0, len(found[0xDB]), 65)))
    restart = b""
    if 0xDD in found:  # restart markers in the scan: types 64..127 carry the interval
        kind += 64
        restart = found[0xDD] + struct.pack("!H", 0xFFFF)  # F=1, L=1, count 0x3FFF
    out = []
    for offset in range(0, len(scan), size):
        header = struct.pack("!I", offset)[1:]
        main = b"\x00" + header + bytes((kind, 255, width // 8, height // 8)) + restart
        if offset == 0:
            main += struct.pack("!BBH", 0, 0, len(tables)) + tables
        out.append(main + scan[offset : offset + size])
    return out


def decode(jpeg: bytes) -> np.ndarray[Any, Any]:
    ctx: Any = av.CodecContext.create("mjpeg", "r")
    (frame,) = ctx.decode(av.Packet(jpeg))
    return frame.to_ndarray(format="rgb24")  # type: ignore[no-any-return]


def test_a_picture_rebuilt_from_rtp_decodes_like_the_original() -> None:
    original = encode_jpeg("yuvj420p")
    kind = 1  # 4:2:0
    out: list[tuple[bytes, int, bool, int]] = []
    dep = JpegDepacketizer(lambda *unit: out.append(unit))
    payloads = rtp_payloads(original, kind)
    assert len(payloads) > 1
    for i, payload in enumerate(payloads):
        dep.push(payload, 0, len(payload), 900, i == len(payloads) - 1)
    (rebuilt, ts, keyframe, _), = out
    assert ts == 900 and keyframe and dep.size == (96, 64)
    assert np.array_equal(decode(rebuilt), decode(original))


def test_type_0_is_4_2_2_with_one_chroma_sample_per_two_luma() -> None:
    sof = segments(jpeg_headers(0, 64, 32, scaled_tables(50), 0, 0))[0][0xC0]
    assert sof == bytes.fromhex("080020004003012100021101031101")
    assert struct.unpack("!HH", sof[1:5]) == (32, 64)


def test_a_missing_fragment_drops_the_picture() -> None:
    out: list[Any] = []
    dep = JpegDepacketizer(lambda *unit: out.append(unit))
    payloads = rtp_payloads(encode_jpeg("yuvj420p"), 1, size=300)
    for i, payload in enumerate(payloads):
        if i != 1:
            dep.push(payload, 0, len(payload), 0, i == len(payloads) - 1)
    assert out == [] and dep.malformed == 1


def test_standard_tables_scale_with_q() -> None:
    assert list(scaled_tables(50)[:8]) == [16, 11, 12, 14, 12, 10, 16, 14]
    assert set(scaled_tables(99)) <= {1, 2}
    assert len(scaled_tables(10)) == 128


def test_static_payload_type_26_is_jpeg() -> None:
    media = MediaDescription("video", 26, "jpeg", 90000)
    assert isinstance(make_depacketizer(media, lambda *_: None), JpegDepacketizer)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=200), st.booleans(), st.booleans()), max_size=30))
def test_fuzzed_payloads_never_raise(packets: list[tuple[bytes, bool, bool]]) -> None:
    dep = JpegDepacketizer(lambda *_: None)
    for payload, marker, lost in packets:
        if lost:
            dep.lost()
        dep.push(payload, 0, len(payload), 0, marker)
