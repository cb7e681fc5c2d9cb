"""Per-consumer queues: bounded, drop-oldest by default, resync on a keyframe."""

from fractions import Fraction

import pytest

from camsdk import Discontinuity, MediaPacket, OverflowPolicy
from camsdk._pipeline._queue import ConsumerQueue, QueueClosed

pytestmark = pytest.mark.anyio


def pkt(n: int, key: bool = False) -> MediaPacket:
    return MediaPacket(b"x", n, n, Fraction(1, 90000), key)


def is_key(p: MediaPacket) -> bool:
    return p.keyframe


async def drain(q: ConsumerQueue[MediaPacket]) -> list[object]:
    out: list[object] = []
    q.close()
    while True:
        try:
            out.append(await q.get())
        except QueueClosed:
            return out


async def test_items_come_out_in_order() -> None:
    q: ConsumerQueue[MediaPacket] = ConsumerQueue(8, is_key=is_key)
    for i in range(3):
        q.put(pkt(i, key=i == 0))
    assert [p.pts for p in await drain(q)] == [0, 1, 2]  # type: ignore[attr-defined]


async def test_drop_oldest_drops_a_whole_gop_and_marks_the_gap() -> None:
    q: ConsumerQueue[MediaPacket] = ConsumerQueue(4, OverflowPolicy.DROP_OLDEST, is_key)
    for i, key in enumerate([True, False, True, False]):
        q.put(pkt(i, key))
    q.put(pkt(4))  # overflow: the first GOP (0, 1) goes
    items = await drain(q)
    assert isinstance(items[0], Discontinuity)
    assert items[0].dropped == 2
    assert [p.pts for p in items[1:]] == [2, 3, 4]  # type: ignore[union-attr]
    assert q.dropped == 2


async def test_after_losing_everything_the_consumer_resumes_on_a_keyframe() -> None:
    q: ConsumerQueue[MediaPacket] = ConsumerQueue(2, OverflowPolicy.DROP_OLDEST, is_key)
    q.put(pkt(0, True))
    q.put(pkt(1))
    q.put(pkt(2))  # queue holds no keyframe after dropping: skip to the next one
    q.put(pkt(3))
    q.put(pkt(4, True))
    items = await drain(q)
    assert isinstance(items[0], Discontinuity)
    assert items[0].dropped == 4
    assert [p.pts for p in items[1:]] == [4]  # type: ignore[union-attr]


async def test_drop_newest_keeps_the_queued_items() -> None:
    q: ConsumerQueue[MediaPacket] = ConsumerQueue(2, OverflowPolicy.DROP_NEWEST, is_key)
    q.put(pkt(0, True))
    q.put(pkt(1))
    q.put(pkt(2))
    q.put(pkt(3, True))
    items = await drain(q)
    assert [getattr(i, "pts", "marker") for i in items] == [0, 1, "marker"]
    assert q.dropped == 2


async def test_frames_without_keys_drop_exactly_one_oldest() -> None:
    q: ConsumerQueue[int] = ConsumerQueue(3)
    for i in range(4):
        q.put(i)
    items = await drain(q)  # type: ignore[arg-type]
    assert isinstance(items[0], Discontinuity)
    assert items[1:] == [1, 2, 3]


async def test_close_with_error_raises_after_queued_items() -> None:
    q: ConsumerQueue[MediaPacket] = ConsumerQueue(4, is_key=is_key)
    q.put(pkt(0, True))
    q.close(RuntimeError("gone"))
    assert (await q.get()).pts == 0  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="gone"):
        await q.get()
