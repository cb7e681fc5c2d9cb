"""Cross-check: for the same served content, camsdk's client yields exactly the access
units PyAV's RTSP demuxer (FFmpeg) yields, over 30 s of H.264 and of H.265 media.

The test server runs 15x faster than real time (RTP timestamps unchanged), so
30 s of media take about two seconds. Both clients read the same loop from
its start (each PLAY session starts at the loop's first keyframe). Units are
compared as lists of NAL units (Annex-B start codes normalised away).
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import av
import pytest

from camsdk._rtsp import RtspUpstream
from camsdk._rtsp._nal import split_annexb
from camsdk.testing import EncodedLoop, RtspServer, generate_source

from ._helpers import settings, take

pytestmark = pytest.mark.anyio

SECONDS = 30
FPS = 15
UNITS = SECONDS * FPS


def pyav_units(url: str, count: int) -> list[tuple[int | None, list[bytes]]]:
    """(pts, NAL units) of the first ``count`` video packets FFmpeg demuxes."""
    out: list[tuple[int | None, list[bytes]]] = []
    container: Any = av.open(url, options={"rtsp_transport": "tcp"}, timeout=(10.0, 10.0))
    try:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                out.append((packet.pts, split_annexb(bytes(packet))))
                if len(out) >= count:
                    break
    finally:
        container.close()
    return out


@pytest.fixture(scope="module", params=["h264", "h265"])
def two_second_loop(request: pytest.FixtureRequest) -> EncodedLoop:
    return generate_source(fps=FPS, gop=FPS, seconds=2.0, codec=request.param)


async def test_access_units_are_identical_to_pyav_for_30_seconds(
    two_second_loop: EncodedLoop,
) -> None:
    async with RtspServer(two_second_loop, speed=15) as server:
        theirs_task = asyncio.ensure_future(anyio.to_thread.run_sync(pyav_units, server.url, UNITS))
        try:
            async with RtspUpstream(settings(server.url, audio=False)) as upstream:
                ours = await take(upstream, UNITS, timeout=30)
        finally:
            with anyio.fail_after(30):
                theirs = await theirs_task
    assert len(theirs) == len(ours) == UNITS
    mismatched = [i for i, (p, (_, nals)) in enumerate(zip(ours, theirs, strict=True))
                  if split_annexb(p.data) != nals]
    assert mismatched == [], f"{len(mismatched)} units differ, first at {mismatched[:3]}"
    # Same timing too: FFmpeg's timestamps count from its own origin; the steps agree
    # wherever FFmpeg gives one (it leaves the first ones unset before RTCP sync).
    steps = [(b.pts - a.pts, tb - ta) for a, b, (ta, _), (tb, _)  # type: ignore[operator]
             in zip(ours, ours[1:], theirs, theirs[1:], strict=False)
             if ta is not None and tb is not None]
    assert len(steps) > UNITS // 2 and all(x == y for x, y in steps)
