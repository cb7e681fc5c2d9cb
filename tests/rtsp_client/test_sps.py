"""Picture size and frame rate from real encoders' parameter sets; hostile ones fail cleanly."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk._rtsp._nal import split_annexb
from camsdk._rtsp._sps import BitReader, parse_h264_sps, parse_h265_sps, unescape_rbsp


def encoded_sps(encoder: str, width: int, height: int, fps: int, **options: str) -> bytes:
    ctx: Any = av.CodecContext.create(encoder, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, fps)
    ctx.framerate = Fraction(fps)
    ctx.options = {"preset": "ultrafast", **options}
    frame = av.VideoFrame(width, height, "yuv420p")
    frame.pts = 0
    data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
    wanted = 7 if encoder == "libx264" else 33
    for nal in split_annexb(data):
        kind = nal[0] & 0x1F if encoder == "libx264" else (nal[0] >> 1) & 0x3F
        if kind == wanted:
            return nal
    raise AssertionError("no SPS in the encoder's output")


@pytest.mark.parametrize(("width", "height", "options"), [
    (1920, 1080, {}),
    (330, 250, {}),
    (176, 144, {"profile": "baseline"}),
    (1280, 720, {"x264-params": "interlaced=1"}),
    (640, 360, {"profile": "high444", "x264-params": "cqm=jvt"}),
])
def test_h264_sizes_with_cropping_and_the_vui_frame_rate(
    width: int, height: int, options: dict[str, str]
) -> None:
    info = parse_h264_sps(encoded_sps("libx264", width, height, 25, **options))
    assert (info.width, info.height) == (width, height)
    assert info.fps == pytest.approx(25.0) or "interlaced" in options.get("x264-params", "")


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (330, 250), (64, 64)])
def test_h265_sizes_with_the_conformance_window_and_frame_rate(width: int, height: int) -> None:
    info = parse_h265_sps(encoded_sps("libx265", width, height, 15,
                                      **{"x265-params": "log-level=error"}))
    assert (info.width, info.height) == (width, height)
    assert info.fps == pytest.approx(15.0)


def test_emulation_prevention_bytes_are_removed() -> None:
    assert unescape_rbsp(b"\x67\x00\x00\x03\x01\x00\x00\x03\x00") == b"\x67\x00\x00\x01\x00\x00\x00"


def test_exp_golomb_codes() -> None:
    reader = BitReader(bytes([0b10100110, 0b01000000]))
    assert [reader.ue(), reader.ue(), reader.ue(), reader.se()] == [0, 1, 2, 2]


def test_not_an_sps_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_h264_sps(b"\x68\xce\x3c\x80")
    with pytest.raises(ValueError):
        parse_h265_sps(b"\x44\x01\xc1\x73\x00\x00")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_parameter_sets_parse_or_raise_value_error(body: bytes) -> None:
    for parse, header in ((parse_h264_sps, b"\x67"), (parse_h265_sps, b"\x42\x01")):
        try:
            info = parse(header + body)
        except ValueError:
            continue
        assert 0 < info.width <= 16384 and 0 < info.height <= 16384
