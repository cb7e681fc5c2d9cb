"""Specification of the virtual camera's encoded test-scene loop."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from itertools import accumulate
from pathlib import Path
from typing import Any

import av
import pytest

from camsdk._media import MediaPacket
from camsdk.drivers.virtual import _scene
from camsdk.drivers.virtual._scene import EncodedLoop, LoopParams, encoded_loop

SMALL = LoopParams(width=320, height=240, fps=15, gop=10, seconds=2.0)
NAL_TYPES = {"h264": {"SPS": 7, "PPS": 8}, "hevc": {"VPS": 32, "SPS": 33, "PPS": 34}}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets an empty memory cache and its own disk cache directory."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("CAMSDK_CACHE_DIR", str(cache_dir))
    _scene._forget_memory_cache()
    yield cache_dir
    _scene._forget_memory_cache()


def nal_types(data: bytes, codec: str) -> list[int]:
    """NAL unit types in an Annex-B buffer."""
    units = [u for u in data.split(b"\x00\x00\x01") if u.strip(b"\x00")]
    if codec == "h264":
        return [u[0] & 0x1F for u in units]
    return [(u[0] >> 1) & 0x3F for u in units]


def decode(codec: str, packets: Sequence[MediaPacket]) -> list[av.VideoFrame]:
    """Decode with a fresh decoder that has no extradata."""
    decoder = av.CodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    frames: list[av.VideoFrame] = []
    for packet in packets:
        frames.extend(decoder.decode(av.Packet(packet.data)))
    frames.extend(decoder.decode(None))
    return frames


def packet_fields(packets: Sequence[MediaPacket]) -> list[tuple[Any, ...]]:
    """Everything about packets except their arrival time."""
    return [(p.data, p.pts, p.dts, p.time_base, p.keyframe, p.kind, p.duration) for p in packets]


def same_loop(a: EncodedLoop, b: EncodedLoop) -> bool:
    return (
        a.info == b.info
        and a.duration == b.duration
        and packet_fields(a.video) == packet_fields(b.video)
        and packet_fields(a.audio) == packet_fields(b.audio)
    )


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.iterdir())


# --------------------------------------------------------------------- video


def test_first_video_packet_is_a_keyframe() -> None:
    assert encoded_loop(SMALL).video[0].keyframe


def test_keyframes_fall_exactly_every_gop_frames() -> None:
    loop = encoded_loop(SMALL)
    keyframes = [i for i, p in enumerate(loop.video) if p.keyframe]
    assert keyframes == list(range(0, len(loop.video), SMALL.gop))


def test_loop_length_is_rounded_up_to_whole_gops() -> None:
    loop = encoded_loop(LoopParams(width=320, height=240, fps=15, gop=10, seconds=1.1))
    assert len(loop.video) == 20
    assert loop.duration == Fraction(20, 15)


def test_video_timestamps_are_contiguous_90khz_and_decode_ordered() -> None:
    # 7 does not divide 90000: durations vary by one tick but never drift.
    loop = encoded_loop(LoopParams(width=320, height=240, fps=7, gop=7, seconds=1.0))
    starts = list(accumulate((p.duration for p in loop.video[:-1]), initial=0))
    assert [p.pts for p in loop.video] == starts
    assert [p.dts for p in loop.video] == starts
    assert all(p.time_base == Fraction(1, 90_000) and p.kind == "video" for p in loop.video)
    assert sum(p.duration for p in loop.video) == loop.duration * 90_000


def test_stream_info_describes_the_video() -> None:
    info = encoded_loop(SMALL).info
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 320, 240, 15.0)
    assert info.time_base == Fraction(1, 90_000)
    assert not info.has_audio


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_extradata_holds_annex_b_parameter_sets(codec: str) -> None:
    extradata = encoded_loop(LoopParams(320, 240, 15, codec, gop=10, seconds=1.0)).info.extradata
    assert extradata is not None
    assert extradata.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))
    assert set(NAL_TYPES[codec].values()) <= set(nal_types(extradata, codec))


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_every_keyframe_carries_parameter_sets_in_band(codec: str) -> None:
    loop = encoded_loop(LoopParams(320, 240, 15, codec, gop=10, seconds=2.0))
    for packet in loop.video:
        assert packet.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))
        if packet.keyframe:
            assert set(NAL_TYPES[codec].values()) <= set(nal_types(packet.data, codec))


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_every_packet_decodes_to_a_clean_full_size_frame(codec: str) -> None:
    loop = encoded_loop(LoopParams(320, 240, 15, codec, gop=10, seconds=2.0))
    frames = decode(codec, loop.video)
    assert len(frames) == len(loop.video)
    assert all((f.width, f.height) == (320, 240) for f in frames)
    assert not any(f.is_corrupt for f in frames)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_decoding_can_start_at_the_second_keyframe_without_extradata(codec: str) -> None:
    loop = encoded_loop(LoopParams(320, 240, 15, codec, gop=10, seconds=2.0))
    frames = decode(codec, loop.video[10:])
    assert len(frames) == len(loop.video) - 10
    assert not any(f.is_corrupt for f in frames)


def test_scene_moves_between_frames() -> None:
    frames = decode("h264", encoded_loop(SMALL).video)
    first, later = frames[0].to_ndarray(), frames[5].to_ndarray()
    assert (first != later).mean() > 0.05


# --------------------------------------------------------------------- audio


def test_no_audio_track_unless_asked() -> None:
    assert encoded_loop(SMALL).audio == ()


def test_audio_track_is_described_in_stream_info() -> None:
    info = encoded_loop(LoopParams(320, 240, gop=10, seconds=1.0, audio=True)).info
    assert info.has_audio
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 16_000, 1)
    assert info.audio_time_base == Fraction(1, 16_000)
    assert info.audio_extradata  # AudioSpecificConfig


def test_audio_packets_are_raw_aac_that_decode_to_mono_16khz() -> None:
    loop = encoded_loop(LoopParams(320, 240, gop=10, seconds=1.0, audio=True))
    decoder = av.CodecContext.create("aac", "r")
    assert isinstance(decoder, av.AudioCodecContext)
    decoder.extradata = loop.info.audio_extradata
    frames: list[av.AudioFrame] = []
    for packet in loop.audio:
        assert packet.kind == "audio"
        assert packet.data[:2] != b"\xff\xf1"  # no ADTS sync word
        frames.extend(decoder.decode(av.Packet(packet.data)))
    assert frames
    assert {(f.sample_rate, f.layout.nb_channels) for f in frames} == {(16_000, 1)}


def test_audio_timestamps_cover_the_loop_duration() -> None:
    loop = encoded_loop(LoopParams(320, 240, gop=10, seconds=1.0, audio=True))
    assert [p.pts for p in loop.audio] == [i * 1024 for i in range(len(loop.audio))]
    last = loop.audio[-1]
    assert last.pts is not None
    end = last.pts + last.duration
    assert 0 <= end - loop.duration * 16_000 < 1024


# --------------------------------------------------------------------- cache


def test_equal_params_return_the_identical_object() -> None:
    first = encoded_loop(SMALL)
    assert encoded_loop(LoopParams(width=320, height=240, fps=15, gop=10, seconds=2.0)) is first


def test_concurrent_callers_share_one_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_encode = _scene._encode

    def counting_encode(params: LoopParams) -> EncodedLoop:
        calls.append(params)
        return real_encode(params)

    monkeypatch.setattr(_scene, "_encode", counting_encode)
    start = threading.Barrier(4)
    results: list[EncodedLoop] = []

    def worker() -> None:
        start.wait()
        results.append(encoded_loop(SMALL))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_loop_is_written_to_the_cache_dir_atomically(isolated_cache: Path) -> None:
    encoded_loop(SMALL)
    files = cache_files(isolated_cache)
    assert len(files) == 1
    assert files[0].suffix == ".bin"  # no temporary file left behind


def test_xdg_cache_home_is_used_without_camsdk_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAMSDK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    encoded_loop(SMALL)
    assert len(cache_files(tmp_path / "xdg" / "camsdk")) == 1


def test_different_params_use_different_cache_files(isolated_cache: Path) -> None:
    encoded_loop(SMALL)
    encoded_loop(LoopParams(width=320, height=240, fps=15, gop=10, seconds=2.0, audio=True))
    assert len(cache_files(isolated_cache)) == 2


def test_disk_cache_round_trips_without_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    params = LoopParams(width=320, height=240, gop=10, seconds=1.0, audio=True)
    original = encoded_loop(params)
    _scene._forget_memory_cache()

    def no_encode(params: LoopParams) -> EncodedLoop:
        raise AssertionError("should have been loaded from disk")

    monkeypatch.setattr(_scene, "_encode", no_encode)
    assert same_loop(encoded_loop(params), original)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: b"garbage", id="garbage"),
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: raw[:-1] + bytes([raw[-1] ^ 0xFF]), id="flipped-payload-byte"),
        pytest.param(lambda raw: b"", id="empty"),
    ],
)
def test_damaged_cache_file_is_re_encoded_and_replaced(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, damage: Any
) -> None:
    original = encoded_loop(SMALL)
    (path,) = cache_files(isolated_cache)
    path.write_bytes(damage(path.read_bytes()))
    _scene._forget_memory_cache()

    reloaded = encoded_loop(SMALL)

    assert len(reloaded.video) == len(original.video)
    assert not any(f.is_corrupt for f in decode("h264", reloaded.video))
    # The damaged file was replaced by a good one.
    _scene._forget_memory_cache()
    monkeypatch.setattr(_scene, "_encode", lambda params: pytest.fail("re-encoded twice"))
    assert same_loop(encoded_loop(SMALL), reloaded)


def test_unwritable_cache_dir_does_not_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    monkeypatch.setenv("CAMSDK_CACHE_DIR", str(blocker))
    assert encoded_loop(SMALL).video[0].keyframe


# -------------------------------------------------------------------- params


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 0},
        {"height": 0},
        {"width": 321},
        {"height": 241},
        {"fps": 0},
        {"fps": -15},
        {"codec": "vp9"},
        {"gop": 0},
        {"bitrate": 0},
        {"seconds": 0},
        {"seconds": math.nan},
    ],
    ids=lambda changes: ",".join(f"{k}={v}" for k, v in changes.items()),
)
def test_invalid_params_raise_value_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        LoopParams(**changes)
