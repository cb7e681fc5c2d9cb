"""Annex-B splitting, SPS parsing and the parameter-set cache, on real and hostile input."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk._webrtc._h264 import (
    NAL_IDR,
    NAL_PPS,
    NAL_SPS,
    ParameterSets,
    join_annexb,
    nal_type,
    parse_sps,
    pps_id,
    split_annexb,
)
from camsdk._webrtc._receive import VideoTap, opus_samples


def encode(width: int, height: int, profile: str, frames: int = 2) -> list[bytes]:
    """``frames`` H.264 access units from libx264 (Annex-B, parameter sets in-band)."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 25)
    # x264 writes the lowest profile the tools fit: ultrafast's fit baseline.
    preset = "ultrafast" if profile == "baseline" else "veryfast"
    ctx.options = {"preset": preset, "profile": profile, "tune": "zerolatency", "bframes": "0"}
    out: list[bytes] = []
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(
            np.full((height, width, 3), i * 40, dtype=np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        frame.pts = i
        out.extend(bytes(p) for p in ctx.encode(frame))
    out.extend(bytes(p) for p in ctx.encode(None))
    return out


@pytest.mark.parametrize(
    ("width", "height", "profile", "name"),
    [
        (320, 240, "baseline", "constrained baseline"),
        (1920, 1080, "high", "high"),  # 1080 is cropped from 1088
        (642, 362, "main", "main"),  # crops on both axes
    ],
)
def test_sps_gives_the_picture_size_and_profile(
    width: int, height: int, profile: str, name: str
) -> None:
    units = split_annexb(encode(width, height, profile, frames=1)[0])
    sps = next(u for u in units if nal_type(u) == NAL_SPS)
    info = parse_sps(sps)
    assert (info.width, info.height, info.profile) == (width, height, name)
    assert info.fps == 25.0


def test_three_and_four_byte_start_codes_split_alike() -> None:
    units = [b"\x67\x42\x00\x1e", b"\x68\xce\x3c\x80", b"\x65\x88\x84"]
    short = b"".join(b"\x00\x00\x01" + u for u in units)
    assert split_annexb(short) == split_annexb(join_annexb(units)) == units
    assert split_annexb(join_annexb(units) + b"\x00\x00") == units  # trailing zeros


def test_parameter_sets_are_kept_by_id_latest_first() -> None:
    sets = ParameterSets()
    units = split_annexb(encode(320, 240, "baseline", frames=1)[0])
    for unit in units:
        sets.update(unit)
    assert sets.complete
    assert [nal_type(u) for u in sets.units()] == [NAL_SPS, NAL_PPS]
    assert pps_id(sets.units()[1]) == 0
    assert split_annexb(sets.annexb()) == sets.units()


def test_a_keyframe_without_known_parameter_sets_is_not_a_keyframe() -> None:
    first, second = encode(320, 240, "baseline", frames=2)[:2]
    idr_only = join_annexb(u for u in split_annexb(first) if nal_type(u) == NAL_IDR)
    tap = VideoTap()
    packet = tap.process(idr_only, 0)
    assert packet is not None and not packet.keyframe  # undecodable on its own
    tap.seed(u for u in split_annexb(first) if nal_type(u) in (NAL_SPS, NAL_PPS))
    packet = tap.process(idr_only, 3000)
    assert packet is not None and packet.keyframe and tap.injected == 1
    assert tap.process(second, 6000).keyframe is False  # type: ignore[union-attr]


def test_an_access_unit_that_carries_its_sets_passes_byte_for_byte() -> None:
    first = encode(320, 240, "baseline", frames=1)[0]
    packet = VideoTap().process(first, 0)
    assert packet is not None and packet.keyframe and packet.data == first


def test_an_empty_access_unit_gives_no_packet() -> None:
    assert VideoTap().process(b"\x00\x00\x00", 0) is None


@pytest.mark.parametrize(
    ("toc", "samples"),
    [(bytes([0xF8]), 960), (bytes([0xF9, 0x00]), 1920), (bytes([0x1B, 0x02]), 2 * 2880),
     (bytes([0x1B, 0x03]), 0), (b"", 0), (bytes([0xFB]), 0)],
    ids=["celt-20ms", "two-frames", "silk-60ms-x2", "over-120ms", "empty", "truncated"],
)
def test_opus_packet_duration_from_its_toc(toc: bytes, samples: int) -> None:
    assert opus_samples(toc) == samples


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_hostile_sps_bytes_fail_as_value_errors(body: bytes) -> None:
    try:
        info = parse_sps(b"\x67" + body)
    except ValueError:
        return
    assert 16 <= info.width <= 16384 and 16 <= info.height <= 16384


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=256))
def test_hostile_access_units_never_crash_the_tap(data: bytes) -> None:
    tap = VideoTap()
    packet = tap.process(data, 0)
    assert packet is None or packet.data.endswith(data)
