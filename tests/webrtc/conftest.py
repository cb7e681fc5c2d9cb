"""Fixtures of the WebRTC tests: loopback answerers, connected sessions, the test driver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import camsdk
from camsdk._webrtc import WebRtcSession, WebRtcUpstream
from camsdk.drivers.virtual._scene import LoopParams, encoded_loop
from camsdk.testing import WebRtcAnswerer

from ._loopback import ANSWERERS, SMALL, LoopbackWebRtcDriver

#: One keyframe every 10 s: any keyframe sooner than that was asked for.
LONG_GOP = LoopParams(width=320, height=240, fps=15, gop=150, seconds=10)

Connect = Callable[..., Awaitable[tuple[WebRtcSession, WebRtcUpstream, WebRtcAnswerer]]]


@pytest.fixture(scope="session", autouse=True)
def _encoded_loops() -> None:
    """Encode the loops once, up front (cached on disk afterwards)."""
    encoded_loop(SMALL)
    encoded_loop(LONG_GOP)


@pytest.fixture
async def connect(camsdk_no_task_leaks: None) -> AsyncIterator[Connect]:
    """``await connect(**answerer_options, offer=dict(...))``: a started upstream on loopback.

    Everything made is closed at the end of the test, before the task-leak
    check runs (hence the dependency on it).
    """
    made: list[Any] = []

    async def make(
        *, offer: dict[str, Any] | None = None, session: dict[str, Any] | None = None,
        upstream: dict[str, Any] | None = None, start: bool = True, **answerer: Any,
    ) -> tuple[WebRtcSession, WebRtcUpstream, WebRtcAnswerer]:
        peer = WebRtcAnswerer(**{"params": SMALL, **answerer})
        made.append(peer)
        wrtc = WebRtcSession(**{"host_addresses": ("127.0.0.1",), **(session or {})})
        up = WebRtcUpstream(wrtc, **(upstream or {}))
        made.append(up)
        sdp = await wrtc.create_offer(**{"audio": None, **(offer or {})})
        await wrtc.accept_answer(await peer.answer(sdp))
        if start:
            await up.start(timeout=10)
        return wrtc, up, peer

    try:
        yield make
    finally:
        for thing in reversed(made):
            await thing.aclose()


@pytest.fixture
def loopback_driver() -> Any:
    """Register ``webrtc-test://``; the answerers it makes land in `ANSWERERS`."""
    camsdk.register_driver("webrtc-test", LoopbackWebRtcDriver)
    ANSWERERS.clear()
    yield LoopbackWebRtcDriver
    ANSWERERS.clear()
