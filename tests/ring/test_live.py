"""Live view over Ring's WebRTC signalling: packets, leases, close reasons, talk, clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import av
import numpy as np
import pytest

import camsdk
from camsdk import Discontinuity, MediaPacket
from camsdk.testing import RingCloud

from .conftest import camera_url

pytestmark = pytest.mark.anyio


async def packets(cam: camsdk.Camera, count: int, *, audio: bool = False) -> list[MediaPacket]:
    """The first ``count`` packets of the camera's stream."""
    found: list[MediaPacket] = []
    async with cam.stream() as stream, stream.packets(audio=audio) as it:
        async for item in it:
            if isinstance(item, MediaPacket):
                found.append(item)
                if len(found) >= count:
                    break
    return found


async def test_a_live_view_streams_h264_from_a_keyframe_with_opus_audio(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(30):
        async with camsdk.open(camera_url(cloud), **options) as cam:
            async with cam.stream() as stream:
                info = stream.info
            got = await packets(cam, 20, audio=True)
    assert (info.codec, info.width, info.height) == ("h264", 320, 240)
    assert info.audio_codec == "opus"
    video = [p for p in got if p.kind == "video"]
    assert video[0].keyframe and {p.kind for p in got} == {"video", "audio"}


async def test_the_signalling_follows_ring_s_dialog(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options) as cam:
        await packets(cam, 5)
        live = cloud.live_sessions[0]
        methods = list(live.methods)
    assert methods[0] == "live_view"
    assert "ice" in methods, "our candidates are trickled as ice messages"
    assert methods.index("activate_session") > methods.index("live_view")
    assert "camera_options" in methods  # the reply to camera_connected
    assert cloud.tickets and all(used for used in cloud.tickets.values())


async def test_keep_alive_pings_hold_the_session_open(store: Any) -> None:
    from .conftest import FAST, log_in

    async with RingCloud(ping_timeout=0.6) as cloud:
        await log_in(cloud, store)
        async with camsdk.open(camera_url(cloud), **cloud.options, token_store=store,
                               config=FAST, ping_interval=0.1) as cam:
            async with cam.stream() as stream, stream.packets(audio=False) as it:
                seen = 0
                async for item in it:
                    seen += isinstance(item, MediaPacket)
                    if seen >= 30:  # two seconds, more than three ping timeouts
                        break
            live = cloud.live_sessions[0]
            assert live.pings >= 4
    assert len(cloud.live_sessions) == 1, "the session was never closed for lack of pings"


async def test_the_last_consumer_leaving_closes_the_live_view(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    config = {**options["config"], "idle_close": 0.0}
    async with camsdk.open(camera_url(cloud), **{**options, "config": config}) as cam:
        await packets(cam, 5)
        with anyio.fail_after(10):
            await cloud.wait_until(lambda c: not c.running_live_views)
        assert cloud.live_sessions[0].closed_by_client


async def stream_across(cam: camsdk.Camera, action: Any, after: int = 5) -> tuple[
        list[MediaPacket], list[MediaPacket], Discontinuity | None]:
    before: list[MediaPacket] = []
    later: list[MediaPacket] = []
    marker: Discontinuity | None = None
    async with cam.stream() as stream, stream.packets(audio=False) as it:
        async for item in it:
            if isinstance(item, Discontinuity):
                if before and item.reason == "reconnect":
                    marker = item
                continue
            (later if marker is not None else before).append(item)
            if len(before) == after and marker is None and not later:
                await action()
            if len(later) >= 3:
                break
    return before, later, marker


async def test_ring_closing_normally_is_followed_by_a_new_live_view_and_a_discontinuity(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(30):
        async with camsdk.open(camera_url(cloud), **options) as cam:
            before, later, marker = await stream_across(
                cam, lambda: cloud.close_live_views(0, "session ended"))
    assert marker is not None and later[0].keyframe
    assert later[0].dts is not None and before[-1].dts is not None
    assert later[0].dts > before[-1].dts
    assert len(cloud.live_sessions) == 2


async def test_an_authentication_close_ends_the_stream_with_that_error(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(30):
        async with camsdk.open(camera_url(cloud), **options) as cam:
            with pytest.raises(camsdk.AuthenticationError, match="live view session"):
                await stream_across(cam, lambda: cloud.close_live_views(
                    5, "Authentication failed: -1"))
    assert len(cloud.live_sessions) == 1, "no reconnect loop on an authentication failure"


async def test_the_hard_maximum_regenerates_the_live_view(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async def nothing() -> None:
        return None

    with anyio.fail_after(30):
        async with camsdk.open(camera_url(cloud), **options, live_max=1.5) as cam:
            _before, later, marker = await stream_across(cam, nothing)
    assert marker is not None and later[0].keyframe
    assert len(cloud.live_sessions) >= 2


async def test_talk_sends_opus_on_the_live_view_s_peer(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    pcm = (np.sin(np.arange(48_000) / 48_000 * 2 * np.pi * 440) * 3000).astype("<i2")
    with anyio.fail_after(30):
        async with camsdk.open(camera_url(cloud), **options) as cam:
            async with cam.stream() as stream, stream.packets(audio=False) as it:
                await anext(aiter(it))
                async with cam.talk() as speaker:
                    assert speaker.format.codec == "opus"
                    await speaker.send(pcm, sample_rate=48_000)
                    peer = cloud.live_sessions[0].answerer
                    await peer.wait_audio(speaker.packets)
                    sent = speaker.packets
            assert len(cloud.live_sessions) == 1, "talk and video share one live view"
    assert sent == 50 and len(peer.received_audio) >= 50


async def test_talk_alone_opens_a_live_view_and_closes_it_after(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    pcm = np.zeros(9600, "<i2")
    async with camsdk.open(camera_url(cloud), **options) as cam:
        async with cam.talk() as speaker:
            await speaker.send(pcm, sample_rate=48_000)
        with anyio.fail_after(10):
            await cloud.wait_until(lambda c: not c.running_live_views)


async def test_a_clip_of_the_live_view_records_without_transcoding(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    with anyio.fail_after(30):
        async with camsdk.open(camera_url(cloud), **options) as cam:
            clip = await cam.record(tmp_path / "door.mp4", duration=1.0)
    assert clip.video_packets >= 10 and clip.audio == "copied"
    with av.open(str(clip.path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


async def test_a_snapshot_can_come_from_the_live_view(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options) as cam:
        snap = await cam.snapshot(source="stream")
    assert snap.source == "stream" and (snap.width, snap.height) == (320, 240)
    assert cloud.snapshot_requests == 0


async def test_live_view_blocked_by_modes_is_a_privacy_error_not_a_retry_loop(
    store: Any,
) -> None:
    from camsdk.testing._ring_cloud import SimDevice

    from .conftest import FAST, log_in

    devices = [SimDevice("doorbot", 2**60 + 5, "Porch", "doorbell_v3", live_view_disabled=True)]
    async with RingCloud(devices=devices) as cloud:
        await log_in(cloud, store)
        async with camsdk.open(camera_url(cloud), **cloud.options, token_store=store,
                               config=FAST) as cam:
            with anyio.fail_after(10), pytest.raises(camsdk.PrivacyModeError, match="Modes"):
                await packets(cam, 1)
        assert cloud.live_sessions == []
