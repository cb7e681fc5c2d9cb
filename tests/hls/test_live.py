"""Live playlists: where to start, each segment once, resets, reload timing, failures.

The follower runs on `FakeClock`: its sleeps return at once and are
recorded, so reload timing is checked exactly and without waiting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest

from camsdk import DeviceError, MediaPacket, StreamEndedError
from camsdk._hls import HlsLimits, HlsUpstream, MediaPlaylist, parse_playlist
from camsdk._hls._live import SegmentCursor, reload_delay

from ._fakes import FakeClock, FakeFetcher, Scripted, drain, media_playlist, segment_files

pytestmark = pytest.mark.anyio

URL = "http://cam.test/live.m3u8"


def playlist(names: list[str], **kwargs: object) -> MediaPlaylist:
    parsed = parse_playlist(media_playlist(names, **kwargs), URL)  # type: ignore[arg-type]
    assert isinstance(parsed, MediaPlaylist)
    return parsed


def window(first: int, last: int, **kwargs: object) -> str:
    """A live playlist listing s<first>..s<last> (sequence numbers = the numbers in names)."""
    return media_playlist([f"s{i}.ts" for i in range(first, last + 1)], first=first, **kwargs)  # type: ignore[arg-type]


def sequences(scheduled: list) -> list[tuple[int, str | None]]:  # type: ignore[type-arg]
    return [(s.segment.sequence, s.reason) for s in scheduled]


# -- the cursor ------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "first"), [(-1, 4), (-3, 2), (0, 0), (2, 2), (-9, 0), (9, 4)])
def test_a_live_playlist_starts_live_start_index_from_the_end(index: int, first: int) -> None:
    cursor = SegmentCursor(index)
    scheduled = cursor.update(playlist([f"s{i}.ts" for i in range(5)]))
    assert scheduled[0].segment.sequence == first


def test_a_vod_playlist_starts_at_its_first_segment() -> None:
    scheduled = SegmentCursor(-1).update(playlist(["a.ts", "b.ts"], ended=True))
    assert sequences(scheduled) == [(0, None), (1, None)]


def test_each_segment_is_handed_out_once_however_often_it_is_listed() -> None:
    cursor = SegmentCursor(-2)
    handed: list[int] = []
    for first, last in [(0, 2), (0, 2), (1, 3), (2, 5), (4, 6), (4, 6)]:
        handed += [s.segment.sequence for s in cursor.update(playlist_for(first, last))]
    assert handed == [1, 2, 3, 4, 5, 6]


def playlist_for(first: int, last: int) -> MediaPlaylist:
    parsed = parse_playlist(window(first, last), URL)
    assert isinstance(parsed, MediaPlaylist)
    return parsed


def test_segments_that_expired_unfetched_leave_a_gap() -> None:
    cursor = SegmentCursor(-1)
    cursor.update(playlist_for(0, 2))
    assert sequences(cursor.update(playlist_for(6, 8))) == [(6, "gap"), (7, None), (8, None)]


def test_a_sequence_that_goes_backwards_is_a_reset() -> None:
    cursor = SegmentCursor(-1)
    cursor.update(playlist_for(10, 12))
    assert sequences(cursor.update(playlist_for(0, 2))) == [(2, "reset")]


def test_the_same_sequence_under_another_uri_is_a_reset() -> None:
    cursor = SegmentCursor(-1)
    cursor.update(playlist_for(0, 2))
    restarted = playlist(["x0.ts", "x1.ts", "x2.ts", "x3.ts"])
    assert sequences(cursor.update(restarted)) == [(3, "reset")]


def test_a_discontinuity_tag_breaks_the_timeline_before_its_segment() -> None:
    cursor = SegmentCursor(-1)
    cursor.update(playlist_for(0, 1))
    later = parse_playlist(window(0, 3, before={3: ["#EXT-X-DISCONTINUITY"]}), URL)
    assert isinstance(later, MediaPlaylist)
    assert sequences(cursor.update(later)) == [(2, None), (3, "discontinuity")]


def test_an_empty_playlist_hands_out_nothing_and_keeps_the_place() -> None:
    cursor = SegmentCursor(-1)
    cursor.update(playlist_for(0, 1))
    assert cursor.update(playlist([])) == []
    assert cursor.next_sequence == 2


@pytest.mark.parametrize(
    ("changed", "elapsed", "delay"),
    [(True, 0.0, 4.0), (False, 0.0, 2.0), (True, 1.5, 2.5), (True, 9.0, 0.0)],
)
def test_reload_delay_follows_rfc_8216(changed: bool, elapsed: float, delay: float) -> None:
    assert reload_delay(playlist(["a.ts"], target=4, duration=4.0), changed=changed,
                        elapsed=elapsed) == delay


def test_a_target_duration_of_zero_reloads_at_the_segment_duration() -> None:
    assert reload_delay(playlist(["a.ts"], target=0, duration=0.5), changed=True,
                        elapsed=0.0) == 0.5
    assert reload_delay(playlist([], target=0), changed=False, elapsed=0.0) == 0.1


# -- the follower ----------------------------------------------------------------------------


def live_fetcher(files: list[bytes], *texts: str) -> tuple[FakeFetcher, Scripted]:
    script = Scripted(texts)
    fetcher = FakeFetcher({URL: script})
    for i, data in enumerate(files):
        fetcher.resources[f"http://cam.test/s{i}.ts"] = data
    return fetcher, script


def follower(fetcher: FakeFetcher, clock: FakeClock, **kwargs: object) -> HlsUpstream:
    return HlsUpstream(URL, fetcher, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


async def test_reloads_wait_the_target_after_a_change_and_half_when_unchanged(
    ts_video: Path,
) -> None:
    files = segment_files(ts_video)
    fetcher, script = live_fetcher(
        files, window(0, 2), window(0, 2), window(1, 3), window(1, 3, ended=True)
    )
    clock = FakeClock()
    stream = follower(fetcher, clock)
    _, packets, ended = await drain(stream)
    assert clock.sleeps == [1.0, 0.5, 1.0]
    assert script.loads == 4
    assert isinstance(ended, StreamEndedError)
    assert stream.live and stream.finite  # a live playlist that ended
    assert [fetcher.count(f"http://cam.test/s{i}.ts") for i in range(4)] == [0, 0, 1, 1]
    assert len(packets) == 30 and stream.discontinuities == 0


async def test_a_playlist_that_stops_changing_is_reloaded_at_half_target_without_error(
    ts_video: Path,
) -> None:
    fetcher, _ = live_fetcher(segment_files(ts_video), window(0, 0))
    clock = FakeClock(budget=5)
    stream = follower(fetcher, clock)
    got: list[MediaPacket] = []
    segment_read = asyncio.Event()

    async def read() -> None:
        async for packet in stream:
            got.append(packet)
            if len(got) == 15:
                segment_read.set()

    await stream.start()
    reader = asyncio.create_task(read())
    try:
        with anyio.fail_after(5):
            await clock.parked.wait()
            await segment_read.wait()
        assert clock.sleeps == [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]
        assert not reader.done()  # waiting for media: the session's watchdog decides
        assert len(got) == 15
    finally:
        reader.cancel()
        await stream.aclose()
    with pytest.raises(asyncio.CancelledError):
        await reader


async def test_a_missing_live_segment_is_skipped_and_leaves_a_break(ts_video: Path) -> None:
    files = segment_files(ts_video)
    fetcher, _ = live_fetcher(files, window(0, 1), window(0, 3, ended=True))
    del fetcher.resources["http://cam.test/s1.ts"]
    stream = follower(fetcher, FakeClock(), live_start_index=-2)
    _, packets, ended = await drain(stream)
    assert isinstance(ended, StreamEndedError)
    assert len(packets) == 45 and stream.skipped == 1
    assert stream.discontinuities == 1


async def test_an_undemuxable_live_segment_is_skipped(ts_video: Path) -> None:
    files = segment_files(ts_video)
    fetcher, _ = live_fetcher(files, window(0, 2), window(0, 2, ended=True))
    fetcher.resources["http://cam.test/s1.ts"] = b"\x00not a transport stream" * 40
    stream = follower(fetcher, FakeClock(), live_start_index=0)
    _, packets, ended = await drain(stream)
    assert isinstance(ended, StreamEndedError)
    assert len(packets) == 30 and stream.skipped == 1


async def test_too_many_missing_segments_in_a_row_fail_a_live_stream(ts_video: Path) -> None:
    files = segment_files(ts_video)
    fetcher, _ = live_fetcher(files[:1], window(0, 4))
    stream = follower(fetcher, FakeClock(), live_start_index=0,
                      limits=HlsLimits(max_skipped_segments=2))
    _, packets, ended = await drain(stream)
    assert isinstance(ended, DeviceError)
    assert len(packets) == 15 and stream.skipped == 2


async def test_failed_reloads_are_tolerated_a_few_times_in_a_row(ts_video: Path) -> None:
    files = segment_files(ts_video)
    loads = iter([window(0, 0), DeviceError("HTTP 503", code="503"),
                  DeviceError("HTTP 503", code="503"), window(0, 1, ended=True)])
    fetcher, _ = live_fetcher(files, "")
    fetcher.resources[URL] = lambda: next(loads)  # type: ignore[assignment]
    stream = follower(fetcher, FakeClock(), limits=HlsLimits(max_reload_failures=2))
    _, packets, ended = await drain(stream)
    assert isinstance(ended, StreamEndedError) and len(packets) == 30


async def test_failed_reloads_beyond_the_limit_fail_the_stream(ts_video: Path) -> None:
    files = segment_files(ts_video)
    loads = iter([window(0, 0)] + [DeviceError("HTTP 503", code="503")] * 3)
    fetcher, _ = live_fetcher(files, "")
    fetcher.resources[URL] = lambda: next(loads)  # type: ignore[assignment]
    stream = follower(fetcher, FakeClock(), limits=HlsLimits(max_reload_failures=2))
    _, packets, ended = await drain(stream)
    assert isinstance(ended, DeviceError) and len(packets) == 15


async def test_a_playlist_reset_continues_after_a_break(ts_video: Path) -> None:
    files = segment_files(ts_video)
    fetcher, _ = live_fetcher(files, window(2, 3), window(0, 1), window(0, 1, ended=True))
    stream = follower(fetcher, FakeClock())
    _, packets, ended = await drain(stream)
    assert isinstance(ended, StreamEndedError)
    assert [fetcher.count(f"http://cam.test/s{i}.ts") for i in range(4)] == [0, 1, 0, 1]
    assert stream.discontinuities == 1
    video = [p.dts for p in packets if p.kind == "video"]
    assert video[15] == video[14]  # the break, as the session expects to see it


async def test_a_gap_tagged_segment_is_never_fetched(ts_video: Path) -> None:
    files = segment_files(ts_video)
    text = window(0, 2, ended=True, before={1: ["#EXT-X-GAP"]})
    fetcher, _ = live_fetcher(files, text)
    stream = follower(fetcher, FakeClock())
    _, packets, _ = await drain(stream)
    assert fetcher.count("http://cam.test/s1.ts") == 0 and len(packets) == 30
