"""`PacketInbox`: bounded, drops whole GOPs, resumes on a keyframe, ends with its reason."""

from __future__ import annotations

from fractions import Fraction

import pytest

from camsdk import MediaPacket, StreamEndedError, StreamStalledError
from camsdk._webrtc._inbox import PacketInbox

pytestmark = pytest.mark.anyio


def video(n: int, key: bool = False) -> MediaPacket:
    return MediaPacket(b"v", n, n, Fraction(1, 90_000), key)


def audio(n: int) -> MediaPacket:
    return MediaPacket(b"a", n, n, Fraction(1, 48_000), True, kind="audio")


def contents(inbox: PacketInbox) -> list[tuple[str, int | None, bool]]:
    return [(p.kind, p.pts, p.keyframe) for p in inbox._packets]


def test_overflow_drops_the_oldest_gop_up_to_the_next_keyframe() -> None:
    inbox = PacketInbox(4)
    for packet in (video(0, True), video(1), video(2, True), video(3)):
        inbox.put(packet)
    inbox.put(video(4))
    assert contents(inbox) == [("video", 2, True), ("video", 3, False), ("video", 4, False)]
    assert inbox.dropped == 2 and not inbox.needs_keyframe


def test_with_no_keyframe_left_pictures_wait_for_the_next_one() -> None:
    inbox = PacketInbox(3)
    for n in range(3):
        inbox.put(video(n, key=n == 0))
    inbox.put(video(3))  # overflow: the GOP goes, nothing decodable is left
    assert len(inbox) == 0 and inbox.needs_keyframe
    inbox.put(audio(10))  # audio still flows
    inbox.put(video(4))
    inbox.put(video(5, True))
    assert contents(inbox) == [("audio", 10, True), ("video", 5, True)]
    assert inbox.dropped == 5


def test_the_byte_budget_bounds_the_inbox_too() -> None:
    inbox = PacketInbox(100, max_bytes=3)
    for n in range(4):
        inbox.put(video(n, key=n % 2 == 0))
    assert contents(inbox) == [("video", 2, True), ("video", 3, False)]


def test_dropping_audio_keeps_the_pictures() -> None:
    inbox = PacketInbox(2)
    inbox.put(audio(0))
    inbox.put(video(1, True))
    inbox.put(video(2))
    assert contents(inbox) == [("video", 1, True), ("video", 2, False)]


async def test_the_reader_gets_what_is_queued_then_the_end() -> None:
    inbox = PacketInbox(8)
    inbox.put(video(0, True))
    inbox.finish(StreamEndedError("the peer ended the stream", scheme="x"))
    inbox.finish(StreamEndedError("a later reason is ignored"))
    assert (await inbox.get()).pts == 0
    with pytest.raises(StreamEndedError, match="the peer ended"):
        await inbox.get()


async def test_silence_past_the_stall_timeout_is_a_stall() -> None:
    inbox = PacketInbox(8, scheme="nest", url="nest://p/d")
    with pytest.raises(StreamStalledError) as caught:
        await inbox.get(stall_timeout=0.05)
    assert caught.value.url == "nest://p/d"
