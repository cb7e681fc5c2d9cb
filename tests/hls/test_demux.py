"""Segment demuxing from memory: forced formats, probing fallbacks, bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from camsdk import StreamDecodeError, StreamOpenError
from camsdk._hls._demux import SegmentDemuxer, sniff_format

from ._fakes import segment_files


def demuxer(**kwargs: object) -> SegmentDemuxer:
    return SegmentDemuxer(audio=bool(kwargs.get("audio", True)),
                          max_packets=int(kwargs.get("max_packets", 10_000)))  # type: ignore[call-overload]


def _ts_packets(data: bytes) -> list[bytes]:
    return [data[i : i + 188] for i in range(0, len(data), 188)]


def _pid(packet: bytes) -> int:
    return ((packet[1] & 0x1F) << 8) | packet[2]


def test_the_format_is_chosen_from_the_bytes_never_probed() -> None:
    assert sniff_format(b"\x47" + bytes(400), has_init=False) == "mpegts"
    assert sniff_format(b"\0\0\0\x18moof" + bytes(20), has_init=False) == "mp4"
    assert sniff_format(b"\x47" + bytes(400), has_init=True) == "mp4"
    assert sniff_format(b"#EXTM3U\n", has_init=False) == "mpegts"  # never "hls"


def test_a_playlist_posing_as_a_segment_is_only_bad_mpegts() -> None:
    fake = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n" * 20
    with pytest.raises((StreamDecodeError, StreamOpenError)):
        demuxer().demux(fake)


def test_a_segment_without_pat_and_pmt_up_front_still_demuxes(ts_av: Path) -> None:
    packets = _ts_packets(segment_files(ts_av)[1])
    tables = [p for p in packets if _pid(p) in (0, 4096)]
    media = [p for p in packets if _pid(p) not in (0, 4096)]
    assert tables  # ffmpeg's muxer writes PAT (0) and PMT (4096)
    moved = b"".join(media[: len(media) // 2] + tables + media[len(media) // 2 :])
    reference = demuxer().demux(b"".join(packets)).packets
    late = demuxer()
    got = late.demux(moved).packets
    assert late.info is not None and late.info.codec == "h264"
    assert [(p.kind, p.pts) for p in got] == [(p.kind, p.pts) for p in reference]


def test_more_packets_than_the_limit_is_a_decode_error(ts_av: Path) -> None:
    with pytest.raises(StreamDecodeError, match="more than 10"):
        demuxer(max_packets=10).demux(segment_files(ts_av)[0])


def test_a_truncated_segment_gives_the_packets_it_holds(ts_av: Path) -> None:
    data = segment_files(ts_av)[0]
    whole = demuxer().demux(data).packets
    cut = demuxer().demux(data[: len(data) // 2]).packets
    assert 0 < len(cut) < len(whole)
