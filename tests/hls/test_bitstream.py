"""Bitstream forms: fMP4 NAL units to Annex-B (as FFmpeg's filters lay them out), ADTS to raw."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from av.bitstream import BitStreamFilterContext

from camsdk import StreamDecodeError
from camsdk._hls._bitstream import (
    AnnexBWriter,
    adts_config,
    adts_header_size,
    is_length_prefixed,
    strip_adts,
)

SPS = bytes.fromhex("6742c00dda0507ec04")
PPS = bytes.fromhex("68ce0fc8")
SEI = bytes.fromhex("0605ffff")
IDR = bytes.fromhex("65888205a0")
SLICE = bytes.fromhex("419a212f")


def avcc(length_size: int = 4) -> bytes:
    return (
        bytes([1, 0x42, 0xC0, 0x0D, 0xFC | (length_size - 1), 0xE1])
        + len(SPS).to_bytes(2, "big") + SPS
        + b"\x01" + len(PPS).to_bytes(2, "big") + PPS
    )


def prefixed(*units: bytes, size: int = 4) -> bytes:
    return b"".join(len(u).to_bytes(size, "big") + u for u in units)


def test_a_keyframe_gets_the_parameter_sets_before_its_idr_slice() -> None:
    writer = AnnexBWriter("h264", avcc())
    data, random_access = writer.convert(prefixed(SEI, IDR))
    assert random_access
    assert data == (b"\0\0\0\1" + SEI + b"\0\0\0\1" + SPS + b"\0\0\0\1" + PPS
                    + b"\0\0\1" + IDR)


def test_a_keyframe_with_its_own_sps_gets_nothing_added() -> None:
    writer = AnnexBWriter("h264", avcc())
    data, _ = writer.convert(prefixed(SPS, PPS, IDR))
    assert data == b"\0\0\0\1" + SPS + b"\0\0\0\1" + PPS + b"\0\0\1" + IDR


def test_other_frames_only_change_their_prefixes() -> None:
    writer = AnnexBWriter("h264", avcc(length_size=2))
    data, random_access = writer.convert(prefixed(SLICE, size=2))
    assert (data, random_access) == (b"\0\0\0\1" + SLICE, False)


def test_the_parameter_sets_become_annex_b_extradata() -> None:
    assert AnnexBWriter("h264", avcc()).extradata == b"\0\0\0\1" + SPS + b"\0\0\0\1" + PPS


@pytest.mark.parametrize(
    "sample",
    [prefixed(IDR)[:-1], prefixed(IDR)[:3], b"\0\0\0\0" + IDR],
    ids=["truncated unit", "truncated prefix", "zero length"],
)
def test_a_damaged_sample_is_a_decode_error(sample: bytes) -> None:
    with pytest.raises(StreamDecodeError):
        AnnexBWriter("h264", avcc()).convert(sample)


def test_a_truncated_avcc_record_is_a_decode_error() -> None:
    with pytest.raises(StreamDecodeError):
        AnnexBWriter("h264", avcc()[:12])


def test_length_prefixed_extradata_is_told_from_annex_b() -> None:
    assert is_length_prefixed(avcc())
    assert not is_length_prefixed(b"\0\0\0\1" + SPS)
    assert not is_length_prefixed(None)


def _bsf_reference(playlist: Path, codec: str) -> tuple[list[bytes], AnnexBWriter, list[bytes]]:
    """FFmpeg's own HLS reader plus its mp4toannexb filter, and the raw samples."""
    container = av.open(str(playlist), format="hls",
                        options={"protocol_whitelist": "file,crypto"})
    try:
        video = container.streams.video[0]
        writer = AnnexBWriter(codec, bytes(video.codec_context.extradata))
        bsf = BitStreamFilterContext(f"{codec}_mp4toannexb", video)
        raw: list[bytes] = []
        filtered: list[bytes] = []
        for packet in container.demux(video):
            if packet.size == 0:
                continue
            raw.append(bytes(packet))
            filtered.extend(bytes(p) for p in bsf.filter(packet))
        return raw, writer, filtered
    finally:
        container.close()


@pytest.mark.parametrize(("fixture", "codec"), [("fmp4_av", "h264"), ("fmp4_hevc", "hevc")])
def test_conversion_equals_ffmpegs_mp4toannexb_filter(
    fixture: str, codec: str, request: pytest.FixtureRequest
) -> None:
    raw, writer, filtered = _bsf_reference(request.getfixturevalue(fixture), codec)
    assert len(raw) == len(filtered) > 30
    assert [writer.convert(sample)[0] for sample in raw] == filtered


ADTS_LC_48K_MONO = bytes.fromhex("fff14c401b7ffc")  # no CRC


def test_adts_header_sizes() -> None:
    assert adts_header_size(ADTS_LC_48K_MONO + b"x") == 7
    assert adts_header_size(bytes.fromhex("fff04c401b7ffc0000") + b"x") == 9  # with CRC
    assert adts_header_size(b"\x21\x10\x05\x00\x00\x00\x00") == 0  # a raw frame


def test_adts_header_gives_the_audio_specific_config() -> None:
    # AAC LC (2), 48 kHz (index 3), 1 channel: 00010 0011 0001 000
    assert adts_config(ADTS_LC_48K_MONO) == bytes.fromhex("1188")
    assert adts_config(b"raw frame") is None


def test_strip_adts_leaves_the_raw_frame() -> None:
    assert strip_adts(ADTS_LC_48K_MONO + b"frame") == b"frame"
    assert strip_adts(b"frame") == b"frame"
