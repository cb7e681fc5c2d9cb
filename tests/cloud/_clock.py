"""A manual clock for cloud tests: time moves only when the test advances it."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class ManualClock:
    """``clock()`` and ``sleep()`` on virtual time; `advance` wakes sleepers in order.

    After each wake-up the loop runs until every task woken has had its turn
    (a bounded number of passes), so a test reads state right after
    advancing.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    @property
    def sleepers(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())

    async def settle(self) -> None:
        """Let every runnable task run (bounded: no real time passes)."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.now = target
        await self.settle()
