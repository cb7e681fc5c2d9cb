"""One track's RTP/RTCP handling: header forms, unwrapping, loss policy, sender reports."""

from __future__ import annotations

import struct
from types import MappingProxyType

import pytest

from camsdk._media import MediaPacket
from camsdk._rtsp._packetize import rtcp_sender_report, rtp_packet
from camsdk._rtsp._rtp import NTP_UNIX_OFFSET, ReorderBuffer, parse_rtcp, receiver_report
from camsdk._rtsp._sdp import MediaDescription
from camsdk._rtsp._tracks import Track

VIDEO = MediaDescription("video", 96, "h264", 90000)
PCMU = MediaDescription("audio", 0, "pcmu", 8000)
IDR = bytes([0x65, 0x88, 0x80])
P = bytes([0x41, 0x9A, 0x80])


def video_track() -> tuple[Track, list[MediaPacket], list[str]]:
    out: list[MediaPacket] = []
    events: list[str] = []
    track = Track(VIDEO, "video", out.append, on_gap=lambda: events.append("gap"),
                  on_bye=lambda: events.append("bye"), fps=30)
    return track, out, events


def send(track: Track, seq: int, ts: int, payload: bytes, *, ssrc: int = 0x1234,
         marker: bool = True, pt: int = 96) -> None:
    track.on_rtp(rtp_packet(pt, seq, ts, ssrc, marker, payload))


def test_sequence_and_timestamp_wrap_give_continuous_times() -> None:
    track, out, _ = video_track()
    ts = 2**32 - 6000
    for i in range(5):
        send(track, (65534 + i) & 0xFFFF, (ts + 3000 * i) & 0xFFFFFFFF, IDR if i == 0 else P)
    assert [p.pts for p in out] == [0, 3000, 6000, 9000, 12000]
    assert track.lost_packets == 0 and track.gaps == 0


def test_video_starts_at_a_keyframe_and_waits_for_one_after_a_loss() -> None:
    track, out, events = video_track()
    send(track, 1, 0, P)  # before any keyframe: dropped
    send(track, 2, 3000, IDR)
    send(track, 3, 6000, P)
    send(track, 5, 12000, P)  # 4 was lost
    send(track, 6, 15000, P)
    send(track, 7, 18000, IDR)
    assert [(p.pts, p.keyframe) for p in out] == [(0, True), (3000, False), (15000, True)]
    assert events == ["gap"] and track.gaps == 1 and track.lost_packets == 1


def test_duplicates_and_packets_from_the_past_are_dropped() -> None:
    track, out, _ = video_track()
    send(track, 10, 0, IDR)
    send(track, 10, 0, IDR)
    send(track, 9, 0, IDR)
    assert len(out) == 1 and track.bad == 2


def test_csrc_extension_and_padding_are_skipped() -> None:
    track, out, _ = video_track()
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0x80 | 96, 1, 0, 7)
    packet = header + b"\x00" * 8 + b"\xbe\xde\x00\x01" + b"\x00" * 4 + IDR + b"\x00\x00\x03"
    track.on_rtp(packet)
    assert out[0].data == b"\x00\x00\x00\x01" + IDR


def test_other_payload_types_and_garbage_are_ignored() -> None:
    track, out, _ = video_track()
    send(track, 1, 0, b"\x0d", pt=13)  # comfort noise
    track.on_rtp(b"\x00" * 20)
    track.on_rtp(b"\x80")
    assert out == [] and track.bad == 3


def test_a_new_ssrc_keeps_time_moving_forward() -> None:
    track, out, events = video_track()
    send(track, 100, 500_000, IDR)
    send(track, 101, 503_000, P)
    send(track, 7, 12, IDR, ssrc=0x9999)  # the camera restarted its encoder
    assert [p.pts for p in out] == [0, 3000, 6000]
    assert events == ["gap"]


def test_sender_reports_map_rtp_time_to_the_wall_clock() -> None:
    track, out, _ = video_track()
    send(track, 1, 1000, IDR)
    assert out[0].wallclock is None
    track.on_rtcp(rtcp_sender_report(0x1234, 1_700_000_000.25, 4000, 1, 3))
    send(track, 2, 4000 + 45000, P)  # half a second after the report's instant
    assert out[1].wallclock == pytest.approx(1_700_000_000.75, abs=1e-6)


def test_a_sender_report_across_the_timestamp_wrap() -> None:
    track, out, _ = video_track()
    send(track, 1, 2**32 - 9000, IDR)
    track.on_rtcp(rtcp_sender_report(0x1234, 1000.0, 2**32 - 9000, 1, 3))
    send(track, 2, 9000, P)  # 18000 ticks later, past the wrap
    assert out[1].wallclock == pytest.approx(1000.2, abs=1e-6)


def test_a_bye_ends_the_track() -> None:
    track, _, events = video_track()
    send(track, 1, 0, IDR)
    track.on_rtcp(struct.pack("!BBHI", 0x81, 203, 1, 0x1234))
    assert events == ["bye"]


def test_receiver_report_counts_what_was_lost() -> None:
    track, _, _ = video_track()
    for seq in (65530, 65531, 65534, 65535, 0, 1):  # 2 lost, across the wrap
        send(track, seq, 0, IDR)
    track.on_rtcp(rtcp_sender_report(0x1234, 1.5, 0, 1, 1))
    block = track.report_block()
    assert block is not None
    source, loss, highest, _, last_sr, _ = struct.unpack("!IIIIII", block)
    assert (source, loss & 0xFFFFFF, highest) == (0x1234, 2, 65536 + 1)
    assert loss >> 24 == (2 << 8) // 8
    seconds = NTP_UNIX_OFFSET + 1
    assert last_sr == ((seconds & 0xFFFF) << 16) | 0x8000
    report = receiver_report(42, [block])
    assert len(report) % 4 == 0 and report[1] == 201 and parse_rtcp(report) == []


def test_audio_frames_are_independent_of_losses() -> None:
    out: list[MediaPacket] = []
    track = Track(PCMU, "audio", out.append)
    send(track, 1, 0, b"\xff" * 160, pt=0)
    send(track, 3, 320, b"\xff" * 160, pt=0)
    assert [(p.pts, p.duration, p.kind) for p in out] == [(0, 160, "audio"), (320, 160, "audio")]
    assert track.gaps == 0


def test_the_reorder_buffer_releases_in_order_and_reports_holes() -> None:
    released: list[int] = []
    lost: list[int] = []
    buffer = ReorderBuffer(lambda p: released.append(p[0]), lost.append, window=3, delay=0.05)
    for seq, now in ((1, 0.0), (3, 0.0), (2, 0.01), (6, 0.02), (7, 0.02), (8, 0.02), (9, 0.02)):
        buffer.push(seq, bytes([seq]), now)
    # The window overflowed at 9: the hole (4, 5) was given up on.
    assert released == [1, 2, 3, 6, 7, 8, 9] and lost == [2]
    buffer.push(10, b"\x0a", 0.03)
    buffer.push(12, b"\x0c", 0.03)
    assert buffer.deadline == pytest.approx(0.08)
    buffer.expire(0.1)  # the hole at 11 is given up on after the delay
    assert released[-3:] == [9, 10, 12] and lost == [2, 1]
    buffer.push(4, b"\x04", 0.2)  # from the past
    assert buffer.late == 1


def test_sdp_fmtp_is_read_only() -> None:
    assert isinstance(MediaDescription("video", 96, "h264", 90000,
                                       fmtp=MappingProxyType({})).fmtp, MappingProxyType)
