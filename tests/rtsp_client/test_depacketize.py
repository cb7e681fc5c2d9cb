"""Depacketisers: one whole access unit per timestamp, never a corrupt one; fuzzed payloads."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk._rtsp._aac import AacDepacketizer, LatmDepacketizer, parse_stream_mux_config
from camsdk._rtsp._audio import FrameDepacketizer, opus_samples
from camsdk._rtsp._h264 import H264Depacketizer
from camsdk._rtsp._h265 import H265Depacketizer
from camsdk._rtsp._metadata import MAX_DOCUMENT, MetadataDepacketizer
from camsdk._rtsp._nal import split_annexb
from camsdk._rtsp._packetize import aac_payload, fragment_h264, fragment_h265

SPS = bytes.fromhex("6742001e95a8280f64")
PPS = bytes.fromhex("68ce3c80")
IDR = bytes([0x65, 0x88]) + bytes(range(256)) * 12  # first_mb_in_slice = 0
P_SLICE = bytes([0x41, 0x9A]) + b"\x11" * 500
SEI = bytes([0x06, 0x05, 0x01, 0xFF, 0x80])


class Out:
    """Collects what a depacketiser emits."""

    def __init__(self) -> None:
        self.units: list[tuple[bytes, int, bool, int]] = []

    def __call__(self, data: bytes, ts: int, keyframe: bool, duration: int) -> None:
        self.units.append((data, ts, keyframe, duration))


def push_all(dep: Any, payloads: list[bytes], ts: int, *, marker_last: bool = True) -> None:
    for i, payload in enumerate(payloads):
        pkt = b"\x80" * 12 + payload
        dep.push(pkt, 12, len(pkt), ts, marker_last and i == len(payloads) - 1)


def h264_au(*nals: bytes, size: int = 1400) -> list[bytes]:
    return [p for nal in nals for p in fragment_h264(nal, size)]


def stap_a(*nals: bytes) -> bytes:
    return bytes([24]) + b"".join(struct.pack("!H", len(n)) + n for n in nals)


# -- H.264 -------------------------------------------------------------------------------


def test_h264_single_nal_fu_a_and_stap_a_make_one_access_unit() -> None:
    out = Out()
    dep = H264Depacketizer(out, [])
    push_all(dep, [stap_a(SPS, PPS), *h264_au(SEI, IDR, size=500)], 1000)
    (data, ts, keyframe, _), = out.units
    assert split_annexb(data) == [SPS, PPS, SEI, IDR] and ts == 1000 and keyframe


def test_h264_parameter_sets_from_the_sdp_go_before_a_keyframe_without_them() -> None:
    out = Out()
    dep = H264Depacketizer(out, [SPS, PPS])
    push_all(dep, h264_au(SEI, IDR), 0)
    push_all(dep, h264_au(P_SLICE), 3000)
    assert split_annexb(out.units[0][0]) == [SEI, SPS, PPS, IDR]
    assert split_annexb(out.units[1][0]) == [P_SLICE] and not out.units[1][2]


def test_h264_in_band_parameter_sets_replace_the_sdp_ones() -> None:
    new_sps = SPS[:-1] + b"\x65"
    out = Out()
    dep = H264Depacketizer(out, [SPS, PPS])
    push_all(dep, h264_au(new_sps, PPS, IDR), 0)
    push_all(dep, h264_au(IDR), 3000)
    assert split_annexb(out.units[1][0]) == [new_sps, PPS, IDR]


def test_a_keyframe_of_several_slices_with_parameter_sets_before_each_is_one_unit() -> None:
    slice2 = bytes([0x65, 0x40]) + b"\x22" * 900  # first_mb_in_slice != 0
    out = Out()
    dep = H264Depacketizer(out, [])
    push_all(dep, h264_au(SPS, PPS, IDR, SPS, PPS, slice2), 9000)
    assert len(out.units) == 1
    assert split_annexb(out.units[0][0]) == [SPS, PPS, IDR, SPS, PPS, slice2]


def test_a_new_timestamp_ends_a_unit_whose_marker_was_lost() -> None:
    out = Out()
    dep = H264Depacketizer(out, [])
    push_all(dep, h264_au(P_SLICE), 100, marker_last=False)
    push_all(dep, h264_au(P_SLICE), 200)
    assert [u[1] for u in out.units] == [100, 200]


def test_parameter_sets_sent_with_their_own_marker_open_the_next_unit() -> None:
    out = Out()
    dep = H264Depacketizer(out, [])
    push_all(dep, [SPS, PPS], 100)
    push_all(dep, h264_au(IDR), 200)
    assert [(split_annexb(u[0]), u[1]) for u in out.units] == [([SPS, PPS, IDR], 200)]


def test_a_lost_fragment_drops_the_whole_unit_and_nothing_corrupt_comes_out() -> None:
    out = Out()
    dep = H264Depacketizer(out, [SPS, PPS])
    fragments = h264_au(IDR, size=300)
    for i, payload in enumerate(fragments):
        if i == 3:
            dep.lost()  # the fourth fragment never arrived
            continue
        pkt = b"\x80" * 12 + payload
        dep.push(pkt, 12, len(pkt), 0, i == len(fragments) - 1)
    push_all(dep, h264_au(P_SLICE), 3000)
    assert [split_annexb(u[0]) for u in out.units] == [[P_SLICE]]
    assert dep.au.dropped == 1


def test_a_loss_that_took_the_start_of_the_next_picture_drops_that_picture() -> None:
    out = Out()
    dep = H264Depacketizer(out, [SPS, PPS])
    push_all(dep, h264_au(P_SLICE), 0)
    dep.lost()  # the first slice of the next picture is gone
    second_slice = bytes([0x41, 0x40]) + b"\x33" * 100
    push_all(dep, [second_slice], 3000)
    dep.lost()  # a whole unit is gone; the next one starts cleanly
    push_all(dep, h264_au(P_SLICE), 6000)
    assert [u[1] for u in out.units] == [0, 6000]


def test_interleaved_mode_packets_are_ignored_not_misread() -> None:
    out = Out()
    dep = H264Depacketizer(out, [])
    push_all(dep, [bytes([25]) + b"\x00" * 10, bytes([29, 0x85]) + b"\x00" * 10, P_SLICE], 0)
    assert dep.ignored == 2 and [split_annexb(u[0]) for u in out.units] == [[P_SLICE]]


# -- H.265 -------------------------------------------------------------------------------

VPS = bytes([0x40, 0x01]) + b"\x0c\x01\xff\xff"
HSPS = bytes([0x42, 0x01]) + b"\x01\x01\x60"
HPPS = bytes([0x44, 0x01]) + b"\xc1\x73"
IRAP = bytes([0x26, 0x01, 0xAF]) + bytes(range(200)) * 20  # IDR_W_RADL, first slice
TRAIL = bytes([0x02, 0x01, 0xD0]) + b"\x44" * 700


def h265_ap(*nals: bytes) -> bytes:
    return bytes([48 << 1, 1]) + b"".join(struct.pack("!H", len(n)) + n for n in nals)


def test_h265_aggregation_and_fragmentation_make_one_access_unit() -> None:
    out = Out()
    dep = H265Depacketizer(out, [])
    push_all(dep, [h265_ap(VPS, HSPS, HPPS), *fragment_h265(IRAP, 600)], 5)
    push_all(dep, fragment_h265(TRAIL, 600), 3005)
    assert split_annexb(out.units[0][0]) == [VPS, HSPS, HPPS, IRAP] and out.units[0][2]
    assert split_annexb(out.units[1][0]) == [TRAIL] and not out.units[1][2]


def test_h265_sprop_parameter_sets_are_injected_in_decoding_order() -> None:
    out = Out()
    dep = H265Depacketizer(out, [HPPS, VPS, HSPS])
    push_all(dep, fragment_h265(IRAP, 800), 0)
    assert split_annexb(out.units[0][0]) == [VPS, HSPS, HPPS, IRAP]


def test_h265_donl_fields_are_skipped_when_announced() -> None:
    out = Out()
    dep = H265Depacketizer(out, [], donl=True)
    ap = bytes([48 << 1, 1]) + b"\x00\x07" + struct.pack("!H", len(VPS)) + VPS + b"\x01" + (
        struct.pack("!H", len(HSPS)) + HSPS)
    fu = fragment_h265(IRAP, 900)
    fu = [fu[0][:3] + b"\x00\x08" + fu[0][3:], *fu[1:]]
    push_all(dep, [ap, *fu], 0)
    assert split_annexb(out.units[0][0]) == [VPS, HSPS, IRAP]


# -- audio and metadata ------------------------------------------------------------------

AAC_HBR = {"sizelength": "13", "indexlength": "3", "indexdeltalength": "3"}


def test_aac_several_frames_in_one_packet_get_consecutive_timestamps() -> None:
    frames = [b"\x21" * 100, b"\x22" * 120, b"\x23" * 90]
    headers = b"".join(struct.pack("!H", len(f) << 3) for f in frames)
    payload = struct.pack("!H", 16 * len(frames)) + headers + b"".join(frames)
    out = Out()
    AacDepacketizer(out, AAC_HBR).push(b"\x80" * 12 + payload, 12, 12 + len(payload), 48000,
                                       True)
    assert [(u[0], u[1], u[3]) for u in out.units] == [
        (frames[0], 48000, 1024), (frames[1], 49024, 1024), (frames[2], 50048, 1024)]


def test_aac_a_frame_fragmented_over_packets_is_reassembled() -> None:
    frame = bytes(range(256)) * 10
    header = struct.pack("!HH", 16, len(frame) << 3)
    out = Out()
    dep = AacDepacketizer(out, AAC_HBR)
    parts = [frame[:1000], frame[1000:2000], frame[2000:]]
    for i, part in enumerate(parts):
        pkt = b"\x80" * 12 + header + part
        dep.push(pkt, 12, len(pkt), 7, i == 2)
    assert [u[0] for u in out.units] == [frame]


def test_aac_from_the_test_server_payloader_round_trips() -> None:
    out = Out()
    payload = aac_payload(b"\x01\x02\x03")
    AacDepacketizer(out, AAC_HBR).push(payload, 0, len(payload), 0, True)
    assert out.units[0][0] == b"\x01\x02\x03"


def test_latm_config_gives_the_audio_specific_config_and_frames() -> None:
    # AAC-LC, 48 kHz, stereo; audioMuxVersion 0, one subframe, one program/layer.
    asc, rate, channels, subframes = parse_stream_mux_config(bytes.fromhex("40002320"))
    assert (asc, rate, channels, subframes) == (bytes.fromhex("1190"), 48000, 2, 1)
    out = Out()
    frame = b"\x55" * 300
    payload = b"\xff\x2d" + frame  # 255 + 45 = 300
    dep = LatmDepacketizer(out, subframes)
    dep.push(payload[:100], 0, 100, 10, False)
    dep.push(payload[100:], 0, len(payload) - 100, 10, True)
    assert [u[0] for u in out.units] == [frame]


def test_g711_and_l16_durations_come_from_the_payload_size() -> None:
    out = Out()
    FrameDepacketizer(out, bytes_per_sample=1).push(b"\xff" * 160, 0, 160, 8000, False)
    FrameDepacketizer(out, bytes_per_sample=4).push(b"\x00" * 640, 0, 640, 0, False)
    assert [u[3] for u in out.units] == [160, 160]


def test_opus_durations_come_from_the_toc_byte() -> None:
    assert opus_samples(bytes([(12 << 3) | 0])) == 480  # hybrid 10 ms, one frame
    assert opus_samples(bytes([(3 << 3) | 1])) == 5760  # SILK 60 ms, two frames: 120 ms
    assert opus_samples(bytes([(31 << 3) | 3, 0x83])) == 2880  # CELT 20 ms x3
    assert opus_samples(bytes([(31 << 3) | 3, 0x3F])) == 0  # 63 frames: impossible


def test_metadata_documents_end_at_the_marker_and_are_bounded() -> None:
    out = Out()
    dep = MetadataDepacketizer(out)
    push_all(dep, [b"<a>", b"1</a>"], 0)
    push_all(dep, [b"x" * 700_000, b"y" * 700_000], 1)  # over 1 MiB: dropped
    dep.lost()
    push_all(dep, [b"<b/>"], 2)  # the loss may have taken its start: dropped
    push_all(dep, [b"<c/>"], 3)
    assert [u[0] for u in out.units] == [b"<a>1</a>", b"<c/>"]
    assert dep.dropped == 2 and MAX_DOCUMENT == 1024 * 1024


# -- fuzzing: any payload sequence ends in units or drops, never an exception ------------

Factory = Callable[[Out], Any]
DEPACKETIZERS: dict[str, Factory] = {
    "h264": lambda out: H264Depacketizer(out, [SPS, PPS]),
    "h265": lambda out: H265Depacketizer(out, [VPS, HSPS, HPPS]),
    "h265-donl": lambda out: H265Depacketizer(out, [], donl=True),
    "aac": lambda out: AacDepacketizer(out, AAC_HBR),
    "aac-cts": lambda out: AacDepacketizer(out, {**AAC_HBR, "ctsdeltalength": "16",
                                                "dtsdeltalength": "16",
                                                "randomaccessindication": "1",
                                                "auxiliarydatasizelength": "8"}),
    "latm": lambda out: LatmDepacketizer(out, 2),
    "g711": lambda out: FrameDepacketizer(out, bytes_per_sample=1),
    "opus": lambda out: FrameDepacketizer(out, bytes_per_sample=0),
    "metadata": lambda out: MetadataDepacketizer(out),
}

_payload = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([stap_a(SPS, PPS), h265_ap(VPS, HSPS), bytes([28, 0x85]) + b"\x00" * 9,
                     bytes([28, 0x45]), bytes([49 << 1, 1, 0x93]), b"\x00\x10\x40\x00\xff",
                     bytes([24, 0xFF, 0xFF, 1]), b""]),
)
_packets = st.lists(st.tuples(_payload, st.integers(0, 5), st.booleans(), st.booleans()),
                    max_size=50)


@pytest.mark.parametrize("name", sorted(DEPACKETIZERS))
@settings(max_examples=150, deadline=None)
@given(packets=_packets)
def test_fuzzed_payloads_never_raise_and_units_stay_bounded(
    name: str, packets: list[tuple[bytes, int, bool, bool]]
) -> None:
    out = Out()
    dep = DEPACKETIZERS[name](out)
    for payload, ts, marker, lost in packets:
        if lost:
            dep.lost()
        pkt = b"\x80" * 12 + payload
        dep.push(pkt, 12, len(pkt), ts, marker)
    for data, _, _, _ in out.units:
        assert len(data) <= 8 * 1024 * 1024
