"""Ring end to end through the public API, against the simulated cloud.

Log in with 2FA -> list the account's devices -> live view -> a clip -> talk
-> an event by push; push goes silent and polling takes over with no event
lost or doubled; the application restarts and resumes without logging in
again; a second process on the same token lineage is refused while the first
keeps working.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import anyio
import av
import numpy as np
import pytest

import camsdk
from camsdk import EventKind, MediaPacket
from camsdk.cloud import FileTokenStore, login
from camsdk.testing import RingCloud

from .conftest import EVENTS, FAST, credentials
from .test_events import push_ready, starts

pytestmark = pytest.mark.anyio

WORKTREE = Path(__file__).resolve().parents[2]


async def test_ring_end_to_end(cloud: RingCloud, tmp_path: Path) -> None:
    tokens = str(tmp_path / "tokens")
    endpoints = cloud.options
    with anyio.fail_after(90):
        # 1. Log in: password, then the SMS code, as `camsdk login ring` does.
        flow = await login("ring", account="home", store=FileTokenStore(tokens),
                           credentials=credentials(cloud), **endpoints, token_dir=tokens)
        assert flow.challenge is not None and flow.challenge.kind == "sms"
        await flow.complete(cloud.code)

        options = {**endpoints, "token_dir": tokens, "config": FAST, **EVENTS}
        async with camsdk.hub("ring://home", **options) as hub:
            # 2. Devices.
            listing = {c.name: c for c in await hub.listing()}
            assert {"Front Door", "Garden", "Building Intercom"} <= set(listing)
            cameras = {c.id: c for c in await hub.cameras()}
            door = cameras[listing["Front Door"].id]
            async with door:
                # 3. Live view.
                async with door.stream() as stream, stream.packets() as it:
                    async for item in it:
                        if isinstance(item, MediaPacket) and item.kind == "video":
                            assert item.keyframe
                            break
                    # 4. A clip while the live view runs (it shares it).
                    clip = await door.record(tmp_path / "visitor.mp4", duration=1.0)
                    # 5. Talk on the same peer.
                    async with door.talk() as speaker:
                        await speaker.send(np.zeros(9600, "<i2"), sample_rate=48_000)
                        sent = speaker.packets
                    await cloud.live_sessions[0].answerer.wait_audio(sent)
                assert len(cloud.live_sessions) == 1
                with av.open(str(clip.path)) as container:
                    assert container.streams.video[0].codec_context.name == "h264"

                # 6. Events by push, then push goes silent and polling takes over.
                async with door.events() as events:
                    await push_ready(cloud, events, which=0)
                    pressed = cloud.ding(0, "ding")
                    [event] = await starts(events, 1)
                    assert (event.event_id, event.kind) == (pressed, EventKind.DOORBELL)
                    cloud.go_silent()
                    quiet = [cloud.ding(0, "motion"), cloud.ding(0, "person")]
                    polled = await starts(events, 2)
                    sentinel = cloud.ding(0, "ding")
                    [last] = await starts(events, 1)
                assert [e.event_id for e in polled] == quiet
                assert {e.extra["source"] for e in polled} <= {"poll", "history"}
                assert last.event_id == sentinel, "nothing came twice"

            # 7. A second process on the same lineage is refused; this one goes on.
            script = textwrap.dedent(f"""
                import asyncio, camsdk

                async def main():
                    try:
                        async with camsdk.hub("ring://home", token_dir={tokens!r},
                                              **{endpoints!r}):
                            print("opened")
                    except camsdk.TokenLineageInUseError:
                        print("refused")

                asyncio.run(main())
            """)
            env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
            second = await anyio.run_process([sys.executable, "-c", script], cwd=WORKTREE,
                                              env=env, check=True)
            assert second.stdout.decode().strip() == "refused"
            cloud.expire_access_tokens()
            garden = next(c for c in await hub.cameras() if c.id == listing["Garden"].id)
            async with garden:  # a request, and with it a refresh
                assert (await garden.snapshot(wake=True)).source == "device"

        # 8. A restart resumes from the stored (rotated) tokens: no new login.
        cloud.expire_access_tokens()
        async with camsdk.open(f"ring://home/{cloud.device(0).key}", **options) as door:
            snap = await door.snapshot()
        assert snap.source == "device"
    assert (cloud.password_grants, cloud.code_requests) == (1, 1)
    assert cloud.refreshes == 2 and cloud.refused_refreshes == 0
