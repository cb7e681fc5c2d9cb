"""Live view: fragmented MP4 over a WebSocket from the shared upstream, masked when it must be."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import av
import numpy as np
import pytest
import websockets

from camsdk.serve import Gateway
from camsdk.serve._app import running
from camsdk.testing import virtual_device, wait_until

from ._helpers import WAIT, OwnerClient, Requester

pytestmark = pytest.mark.anyio

MASK = {"points": [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]], "label": "left half"}


@pytest.fixture
async def base_url(gateway: Gateway) -> AsyncIterator[str]:
    async with running(gateway) as base:
        yield base.replace("http://", "ws://")


async def _ticket(requester: Requester, grant_id: str, camera: str = "porch") -> str:
    response = await requester.client.post("/api/v1/live",
                                           json={"grant_id": grant_id, "camera": camera})
    assert response.status_code == 201, response.text
    return response.json()["ticket"]  # type: ignore[no-any-return]


async def _watch(url: str, chunks: int) -> tuple[dict[str, Any], bytes]:
    """The init message and ``chunks`` binary messages."""
    data = bytearray()
    with anyio.fail_after(WAIT):
        async with websockets.connect(url) as ws:
            init = json.loads(await ws.recv())
            for _ in range(chunks):
                message = await ws.recv()
                assert isinstance(message, bytes)
                data += message
    return init, bytes(data)


def _frames(mp4: bytes) -> list[np.ndarray[Any, Any]]:
    with av.open(io.BytesIO(mp4)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


async def test_a_live_view_is_the_cameras_own_h264_in_fragmented_mp4(
    owner: OwnerClient, requester: Requester, base_url: str, gateway: Gateway
) -> None:
    [grant] = await owner.approve(await requester.submit())
    ticket = await _ticket(requester, grant)
    init, mp4 = await _watch(f"{base_url}/api/v1/live/ws?ticket={ticket}", 20)
    assert init["mime"].startswith('video/mp4; codecs="avc1.')
    assert init["transcoded"] is False
    assert mp4[4:8] == b"ftyp" and b"moof" in mp4
    # The init segment describes the camera's own SPS, the one the MSE type names.
    avcc = mp4.index(b"avcC") + 4
    assert mp4[avcc + 1:avcc + 4].hex() == init["mime"].split("avc1.")[1].rstrip('"')
    frames = _frames(mp4)
    assert len(frames) >= 15 and frames[0].shape == (240, 320)
    access = [r for r in gateway.audit.records()
              if r.get("event") == "access" and r.get("principal") == requester.principal]
    assert {(r["action"], r["allowed"], r["grant_id"]) for r in access} == {
        ("stream.open", True, grant), ("packets", True, grant)}


async def test_a_masked_grant_gets_masked_re_encoded_video(
    owner: OwnerClient, requester: Requester, base_url: str
) -> None:
    [grant] = await owner.approve(await requester.submit(), masks={"porch": [MASK]})
    ticket = await _ticket(requester, grant)
    init, mp4 = await _watch(f"{base_url}/api/v1/live/ws?ticket={ticket}", 10)
    assert init["transcoded"] is True
    frames = _frames(mp4)
    assert frames
    for frame in frames:
        left, right = frame[:, :150], frame[:, 170:]
        assert left.max() <= 24, "the masked half shows something"
        assert right.std() > 10, "the unmasked half is blank"


async def test_a_ticket_opens_one_view_only(
    owner: OwnerClient, requester: Requester, base_url: str
) -> None:
    [grant] = await owner.approve(await requester.submit())
    ticket = await _ticket(requester, grant)
    await _watch(f"{base_url}/api/v1/live/ws?ticket={ticket}", 1)
    with anyio.fail_after(WAIT), pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{base_url}/api/v1/live/ws?ticket={ticket}"):
            pass
    assert refused.value.response.status_code == 403


async def test_revoking_the_grant_stops_the_viewer_at_the_next_frame(
    owner: OwnerClient, requester: Requester, base_url: str
) -> None:
    [grant] = await owner.approve(await requester.submit())
    ticket = await _ticket(requester, grant)
    with anyio.fail_after(WAIT):
        async with websockets.connect(f"{base_url}/api/v1/live/ws?ticket={ticket}") as ws:
            await ws.recv()
            await ws.recv()
            [session] = (await owner.overview())["sessions"]
            assert (session["grant_id"], session["kind"]) == (grant, "browser")
            await owner.post(f"/owner/api/grants/{grant}/revoke")
            ending = None
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:  # ends when the gateway closes the socket
                    message = await ws.recv()
                    if isinstance(message, str):
                        ending = json.loads(message)
            assert ws.close_code == 4403
    assert ending is not None and "revoked" in ending["reason"]
    assert (await owner.overview())["sessions"] == []
    again = await requester.client.post("/api/v1/live", json={"grant_id": grant,
                                                              "camera": "porch"})
    assert again.status_code == 403


async def test_every_viewer_and_the_footage_share_one_upstream(
    owner: OwnerClient, requester: Requester, other_requester: Requester, base_url: str
) -> None:
    [mine] = await owner.approve(await requester.submit())
    [theirs] = await owner.approve(await other_requester.submit())
    urls = [f"{base_url}/api/v1/live/ws?ticket={await _ticket(requester, mine)}",
            f"{base_url}/api/v1/live/ws?ticket={await _ticket(other_requester, theirs)}"]
    with anyio.fail_after(WAIT):
        async with websockets.connect(urls[0]) as first, websockets.connect(urls[1]) as second:
            for ws in (first, second):
                await ws.recv()
                await ws.recv()
            assert len((await owner.overview())["sessions"]) == 2
            device = virtual_device("gw-porch")
            assert device.streams_opened == 1 and device.streams_open == 1


async def test_a_viewer_that_leaves_ends_its_session(
    owner: OwnerClient, requester: Requester, base_url: str, gateway: Gateway
) -> None:
    [grant] = await owner.approve(await requester.submit())
    await _watch(f"{base_url}/api/v1/live/ws?ticket={await _ticket(requester, grant)}", 3)
    with anyio.fail_after(WAIT):
        await wait_until(lambda: not gateway.live)
    ends = [r for r in gateway.audit.records()
            if r.get("event") == "egress.end" and r.get("principal") == requester.principal]
    assert {r["action"] for r in ends} == {"packets", "stream.open"}
    assert next(r for r in ends if r["action"] == "packets")["packets"] >= 3
