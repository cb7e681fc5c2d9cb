"""The Camera facade on the built-in virtual camera: lifecycle, misuse, errors, media."""

from __future__ import annotations

import asyncio
import logging
from itertools import pairwise
from pathlib import Path

import anyio
import av
import pytest

import camsdk
from camsdk import (
    Capability,
    Discontinuity,
    EventKind,
    MediaPacket,
    StreamState,
    VideoFrame,
)
from camsdk.drivers.virtual import virtual_device

pytestmark = pytest.mark.anyio

FAST = "size=160x120&fps=30&gop=15"


def cam_url(name: str, extra: str = "") -> str:
    return f"virtual://{name}?{FAST}{'&' + extra if extra else ''}"


async def first_packets(stream: camsdk.MediaStream, n: int) -> list[MediaPacket | Discontinuity]:
    out: list[MediaPacket | Discontinuity] = []
    async with stream.packets() as packets:
        async for item in packets:
            out.append(item)
            if len(out) >= n:
                break
    return out


# -- lifecycle --------------------------------------------------------------------------


async def test_open_does_no_io_and_connect_reads_info() -> None:
    cam = camsdk.open(cam_url("life"))
    assert cam.state is camsdk.CameraState.NEW
    assert virtual_device("life").connects == 0
    async with cam:
        assert cam.state is camsdk.CameraState.OPEN
        assert cam.info.vendor == "camsdk"
        assert cam.supports(Capability.SNAPSHOT | Capability.STREAM)
    assert cam.state is camsdk.CameraState.CLOSED


async def test_a_closed_camera_cannot_be_reopened() -> None:
    cam = camsdk.open(cam_url("reopen"))
    async with cam:
        pass
    with pytest.raises(camsdk.CameraClosedError):
        await cam.connect()


async def test_using_a_camera_before_connect_is_a_clear_error() -> None:
    cam = camsdk.open(cam_url("early"))
    with pytest.raises(camsdk.CameraClosedError, match="not connected"):
        await cam.snapshot()
    await cam.aclose()


async def test_aclose_is_idempotent() -> None:
    cam = camsdk.open(cam_url("twice"))
    await cam.connect()
    await cam.aclose()
    await cam.aclose()


# -- configuration errors ---------------------------------------------------------------


def test_unknown_scheme_is_a_configuration_error() -> None:
    with pytest.raises(camsdk.UnknownSchemeError, match="nosuch"):
        camsdk.open("nosuch://host/x")


def test_unknown_query_option_is_a_configuration_error() -> None:
    with pytest.raises(camsdk.ConfigurationError, match="bogus"):
        camsdk.open("virtual://x?bogus=1")


def test_unknown_keyword_option_is_a_configuration_error() -> None:
    with pytest.raises(camsdk.ConfigurationError, match="bogus"):
        camsdk.open("virtual://x", bogus=1)


def test_invalid_config_is_a_configuration_error() -> None:
    with pytest.raises(camsdk.ConfigurationError, match="stall_timeout"):
        camsdk.open("virtual://x", config={"stall_timeout": -1})


# -- connection errors ------------------------------------------------------------------


async def test_wrong_password_is_an_authentication_error() -> None:
    cam = camsdk.open(cam_url("auth", "fail=auth"))
    with pytest.raises(camsdk.AuthenticationError) as info:
        await cam.connect()
    assert info.value.scheme == "virtual"
    assert cam.state is camsdk.CameraState.CLOSED


async def test_a_device_that_never_answers_times_out() -> None:
    cam = camsdk.open(cam_url("hang", "fail=timeout"), config={"connect_timeout": 0.2})
    with pytest.raises(camsdk.CameraTimeoutError):
        await cam.connect()


async def test_missing_capability_raises_unsupported() -> None:
    async with camsdk.open(cam_url("noptz", "ptz=0")) as cam:
        assert not cam.supports(Capability.PTZ)
        with pytest.raises(camsdk.UnsupportedCapabilityError):
            cam.ptz  # noqa: B018


# -- streams ----------------------------------------------------------------------------


async def test_stream_info_describes_the_video() -> None:
    async with camsdk.open(cam_url("info")) as cam, cam.stream() as stream:
        assert stream.info.codec == "h264"
        assert (stream.info.width, stream.info.height) == (160, 120)


async def test_packets_start_on_a_keyframe() -> None:
    async with camsdk.open(cam_url("keystart")) as cam, cam.stream() as stream:
        with anyio.fail_after(5):
            packets = await first_packets(stream, 5)
    first = packets[0]
    assert isinstance(first, MediaPacket) and first.keyframe


async def test_new_consumer_starts_at_once_from_the_prebuffered_keyframe() -> None:
    async with camsdk.open(cam_url("prebuf")) as cam, cam.stream() as stream:
        with anyio.fail_after(5):
            await first_packets(stream, 20)  # the upstream is warm now
        keyframe_seen_before = stream.stats().keyframes
        with anyio.fail_after(5):
            late = await first_packets(stream, 1)
        assert isinstance(late[0], MediaPacket) and late[0].keyframe
        # It came from the buffer, not from waiting for a new keyframe.
        assert stream.stats().keyframes == keyframe_seen_before


async def test_consumers_of_one_profile_share_one_upstream() -> None:
    async with camsdk.open(cam_url("shared")) as cam:
        async with cam.stream() as a, cam.stream() as b:
            with anyio.fail_after(5):
                await asyncio.gather(first_packets(a, 10), first_packets(b, 10))
        assert virtual_device("shared").streams_opened == 1


async def test_a_slow_consumer_loses_packets_without_slowing_a_fast_one() -> None:
    async with camsdk.open(cam_url("slow")) as cam, cam.stream() as stream:
        slow = stream.packets(queue_size=4)
        fast_items = 0
        with anyio.fail_after(10):
            async with stream.packets() as fast:
                async for item in fast:
                    if isinstance(item, MediaPacket):
                        fast_items += 1
                    if fast_items >= 45:
                        break
        assert slow.dropped > 0
        first = await slow.__anext__()
        assert isinstance(first, Discontinuity) or (
            isinstance(first, MediaPacket) and first.keyframe
        )
        await slow.aclose()


async def test_timestamps_increase_and_a_dropped_connection_yields_a_discontinuity() -> None:
    url = cam_url("drop")
    config = {"backoff_base": 0.01, "backoff_cap": 0.02}
    async with camsdk.open(url, config=config) as cam, cam.stream() as stream:
        seen: list[MediaPacket | Discontinuity] = []
        with anyio.fail_after(10):
            async with stream.packets() as packets:
                async for item in packets:
                    seen.append(item)
                    if len(seen) == 10:
                        virtual_device("drop").inject_fault("drop_after:1")
                    if any(isinstance(i, Discontinuity) for i in seen) and len(seen) > 30:
                        break
        markers = [i for i, item in enumerate(seen) if isinstance(item, Discontinuity)]
        assert markers and markers[0] >= 10
        after = seen[markers[0] + 1]
        assert isinstance(after, MediaPacket) and after.keyframe
        dts = [p.dts for p in seen if isinstance(p, MediaPacket) and p.kind == "video"]
        assert all(b > a for a, b in pairwise(dts))
        assert stream.stats().reconnects >= 1


async def test_corrupt_timestamps_are_made_monotonic() -> None:
    async with camsdk.open(cam_url("dts", "fail=corrupt_dts")) as cam, cam.stream() as stream:
        with anyio.fail_after(10):
            items = await first_packets(stream, 40)
    dts = [p.dts for p in items if isinstance(p, MediaPacket)]
    assert all(b > a for a, b in pairwise(dts))
    assert any(isinstance(i, Discontinuity) and i.reason == "timestamp" for i in items)


async def test_a_stalled_stream_is_detected_and_reconnected() -> None:
    config = {"stall_timeout": 0.3, "backoff_base": 0.01, "backoff_cap": 0.02}
    states: list[StreamState] = []
    async with camsdk.open(cam_url("stall"), config=config) as cam, cam.stream() as stream:
        with anyio.fail_after(10):
            async with stream.packets() as packets:
                count = 0
                async for item in packets:
                    count += 1
                    states.append(stream.stats().state)
                    if count == 5:
                        virtual_device("stall").inject_fault("stall_after:1")
                    if isinstance(item, Discontinuity):
                        break
        assert stream.stats().reconnects == 1


async def test_upstream_closes_after_idle_close_when_the_last_consumer_leaves() -> None:
    async with camsdk.open(cam_url("idle"), config={"idle_close": 0}) as cam:
        async with cam.stream() as stream:
            with anyio.fail_after(5):
                await first_packets(stream, 2)
        device = virtual_device("idle")
        with anyio.fail_after(5):
            while device.streams_open:
                await asyncio.sleep(0.01)
        assert not cam._sessions


async def test_battery_cameras_close_their_upstream_at_once() -> None:
    async with camsdk.open(cam_url("battery", "battery=1")) as cam:
        assert cam.supports(Capability.BATTERY)
        async with cam.stream() as stream:
            with anyio.fail_after(5):
                await first_packets(stream, 2)
        device = virtual_device("battery")
        with anyio.fail_after(2):
            while device.streams_open:
                await asyncio.sleep(0.01)


# -- frames -----------------------------------------------------------------------------


async def test_frames_are_decoded_in_the_asked_format() -> None:
    async with camsdk.open(cam_url("frames")) as cam, cam.stream() as stream:
        with anyio.fail_after(5):
            async with stream.frames(format="rgb24") as frames:
                async for frame in frames:
                    if isinstance(frame, VideoFrame):
                        break
    array = frame.to_ndarray()
    assert array.shape == (120, 160, 3)
    assert frame.format == "rgb24"


async def test_fps_thins_the_frames() -> None:
    async with camsdk.open(cam_url("thin")) as cam, cam.stream() as stream:
        times: list[float] = []
        with anyio.fail_after(10):
            async with stream.frames(fps=5) as frames:
                async for frame in frames:
                    if isinstance(frame, VideoFrame) and frame.time is not None:
                        times.append(frame.time)
                    if len(times) == 6:
                        break
    gaps = [b - a for a, b in pairwise(times)]
    assert all(g >= 0.19 for g in gaps), gaps


async def test_keyframes_only_yields_only_keyframes() -> None:
    async with camsdk.open(cam_url("keyonly")) as cam, cam.stream() as stream:
        frames_seen: list[VideoFrame] = []
        with anyio.fail_after(10):
            async with stream.frames(keyframes_only=True) as frames:
                async for frame in frames:
                    if isinstance(frame, VideoFrame):
                        frames_seen.append(frame)
                    if len(frames_seen) == 3:
                        break
        assert all(f.keyframe for f in frames_seen)
        # 3 keyframes at GOP 15 and 30 fps cover ~1 s of video: only 3 decodes.
        assert stream.stats().decoded_frames <= 4


async def test_the_decoder_runs_only_while_someone_wants_frames() -> None:
    async with camsdk.open(cam_url("lazydec")) as cam, cam.stream() as stream:
        with anyio.fail_after(5):
            await first_packets(stream, 10)
        assert stream.stats().decoded_frames == 0
        assert cam._sessions[stream.profile].decoder is None


# -- snapshots --------------------------------------------------------------------------


async def test_snapshot_from_the_stream_is_a_valid_jpeg() -> None:
    async with camsdk.open(cam_url("snap")) as cam:
        with anyio.fail_after(10):
            snap = await cam.snapshot()
    assert snap.source == "stream"
    assert snap.jpeg[:2] == b"\xff\xd8"
    assert (snap.width, snap.height) == (160, 120)
    assert snap._repr_jpeg_() == snap.jpeg
    with av.open(__import__("io").BytesIO(snap.jpeg)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (160, 120)


async def test_snapshot_max_age_waits_for_a_fresh_keyframe() -> None:
    async with camsdk.open(cam_url("fresh")) as cam, cam.stream() as stream:
        with anyio.fail_after(5):
            await first_packets(stream, 3)
            first = await cam.snapshot()
            cached = await cam.snapshot()
            assert cached.captured_at == first.captured_at
            fresh = await cam.snapshot(max_age=0.0)
        assert fresh.captured_at > first.captured_at


async def test_device_snapshot_is_used_when_the_driver_has_one(tmp_path: Path) -> None:
    from tests.thirdparty import register

    register()
    async with camsdk.open("stillcam://garden") as cam:
        snap = await cam.snapshot()
    assert snap.source == "device"


# -- recording --------------------------------------------------------------------------


async def test_record_remuxes_with_pre_roll(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    progress: list[float] = []
    async with camsdk.open(cam_url("rec", "audio=1"), config={"prebuffer": 1.0}) as cam:
        async with cam.stream() as stream:
            with anyio.fail_after(10):
                await first_packets(stream, 45)  # 1.5 s of history in the prebuffer
            with anyio.fail_after(10):
                rec = await cam.record(target, 0.5, pre_roll=0.5, progress=progress.append)
    assert rec.path == target and target.exists()
    assert not list(tmp_path.glob(".*part"))
    assert rec.pre_roll >= 0.45
    assert progress[-1] == 1.0
    with av.open(str(target)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert container.streams.audio, "audio track is remuxed too"
        duration = float(container.duration or 0) / 1_000_000
        frames = sum(1 for _ in container.decode(video=0))
    assert 0.9 <= duration <= 1.6
    assert frames >= 27


async def test_record_rejects_bad_arguments(tmp_path: Path) -> None:
    async with camsdk.open(cam_url("recbad")) as cam:
        with pytest.raises(camsdk.ConfigurationError):
            await cam.record(tmp_path / "x.mp4", 0)


# -- events and ptz ---------------------------------------------------------------------


async def test_injected_events_reach_subscribers_filtered_by_kind() -> None:
    async with camsdk.open(cam_url("ev")) as cam:
        async with cam.events(kinds={EventKind.PERSON}) as events:
            device = virtual_device("ev")
            device.inject_event(EventKind.MOTION)
            device.inject_event(EventKind.PERSON, score=0.8)
            with anyio.fail_after(5):
                event = await events.__anext__()
    assert event.kind is EventKind.PERSON
    assert event.camera_id == cam.id


async def test_ptz_moves_and_reports_status() -> None:
    async with camsdk.open(cam_url("ptz")) as cam:
        await cam.ptz.absolute(0.5, -0.25, 0.3)
        status = await cam.ptz.status()
        assert (status.pan, status.tilt, status.zoom) == pytest.approx((0.5, -0.25, 0.3))
        with pytest.raises(camsdk.ConfigurationError):
            await cam.ptz.absolute(2.0, 0, 0)


# -- redaction --------------------------------------------------------------------------


async def test_a_canary_password_never_reaches_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    canary = "Canary-pw-7731"
    caplog.set_level(logging.DEBUG, logger="camsdk")
    url = f"virtual://user:{canary}@canary?{FAST}&fail=auth"
    cam = camsdk.open(url, credentials=camsdk.Credentials("user", canary))
    texts = [repr(cam), str(cam.url), repr(camsdk.Credentials("user", canary))]
    with pytest.raises(camsdk.AuthenticationError) as info:
        await cam.connect()
    texts += [str(info.value), repr(info.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert all(canary not in t for t in texts)
