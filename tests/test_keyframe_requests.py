"""A source that can be asked for a keyframe (WebRTC PLI) is asked when one is awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import anyio
import pytest

import camsdk
from camsdk import MediaPacket
from camsdk.driver import PacketSource, StreamInfo
from camsdk.drivers.virtual import VirtualDriver

pytestmark = pytest.mark.anyio


class OnDemandKeyframes:
    """Passes the first keyframe, then withholds keyframes until one is asked for."""

    live = True
    finite = False

    def __init__(self, inner: PacketSource) -> None:
        self._inner = inner
        self.requests = 0
        self._owed = 1

    @property
    def info(self) -> StreamInfo:
        return self._inner.info

    async def request_keyframe(self) -> bool:
        self.requests += 1
        self._owed += 1
        return True

    async def __aiter__(self) -> AsyncIterator[MediaPacket]:
        async for packet in self._inner:
            if packet.kind == "video" and packet.keyframe:
                if self._owed == 0:
                    continue
                self._owed -= 1
            yield packet

    async def aclose(self) -> None:
        await self._inner.aclose()


class PliCamera(VirtualDriver):
    schemes: ClassVar[tuple[str, ...]] = ("pli",)
    sources: ClassVar[list[OnDemandKeyframes]] = []

    async def open_stream(self, profile: str) -> OnDemandKeyframes:
        source = OnDemandKeyframes(await super().open_stream(profile))
        PliCamera.sources.append(source)
        return source


async def test_a_fresh_snapshot_asks_the_source_for_a_keyframe() -> None:
    camsdk.register_driver("pli", PliCamera)
    PliCamera.sources.clear()
    with anyio.fail_after(15):
        async with camsdk.open("pli://cam?size=160x120&fps=30&gop=15") as cam:
            first = await cam.snapshot()
            # Without the request no further keyframe would ever arrive.
            fresh = await cam.snapshot(max_age=0.0)
    assert fresh.captured_at > first.captured_at
    assert [s.requests for s in PliCamera.sources] == [1]


async def test_sources_without_the_method_are_not_asked() -> None:
    with anyio.fail_after(15):
        async with camsdk.open("virtual://cam?size=160x120&fps=30&gop=15") as cam:
            first = await cam.snapshot()
            fresh = await cam.snapshot(max_age=0.0)
    assert fresh.captured_at > first.captured_at
