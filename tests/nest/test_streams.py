"""Nest live streams: RTSP and WebRTC leases, extended on wired cameras, replaced on battery."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import Discontinuity, MediaPacket
from camsdk.cloud import MemoryTokenStore
from camsdk.testing import NestCloud, wait_until

from .conftest import FAST

pytestmark = pytest.mark.anyio

TTL = 3.0  # seconds a simulated stream lives (Google: 300)
RENEW = 1.5  # seconds before expiry the driver extends (default: 60)


@pytest.fixture
async def short_cloud() -> AsyncIterator[NestCloud]:
    """Streams that live three seconds, so leases turn over within a test."""
    async with NestCloud(stream_ttl=TTL, pull_wait=0.5) as sim:
        yield sim


@pytest.fixture
async def short_options(short_cloud: NestCloud) -> dict[str, Any]:
    store = MemoryTokenStore()
    await store.save(short_cloud.tokens())
    return {**short_cloud.options(), "token_store": store, "config": FAST,
            "credentials": short_cloud.credentials, "renew_before": RENEW}


async def read(cam: camsdk.Camera, *, seconds: float, until_marks: int = 0
               ) -> tuple[list[MediaPacket], list[Discontinuity]]:
    """Video packets and markers for ``seconds`` of media (or until enough markers)."""
    packets: list[MediaPacket] = []
    marks: list[Discontinuity] = []
    after = 0  # packets since the last wanted marker
    with anyio.fail_after(seconds + 15):
        async with cam.stream() as stream, stream.packets(audio=False) as it:
            async for item in it:
                if isinstance(item, Discontinuity):
                    marks.append(item)
                    continue
                packets.append(item)
                reconnects = len([m for m in marks if m.reason == "reconnect"])
                after = after + 1 if until_marks and reconnects >= until_marks else 0
                if after >= 3 or (not until_marks and len(packets) >= seconds * 15):
                    break
    return packets, marks


async def test_an_rtsp_camera_streams_from_the_url_google_hands_out(
    cloud: NestCloud, options: dict[str, Any], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="camsdk")
    async with camsdk.open(cloud.camera_url("Rtsp"), **options) as cam:
        packets, _ = await read(cam, seconds=1)
    assert packets[0].keyframe
    assert cloud.rtsp is not None
    describe = [r.uri for r in cloud.rtsp.request_log if r.method == "DESCRIBE"]
    assert describe and "?auth=g.0.sim-" in describe[0]
    token = describe[0].split("auth=", 1)[1]
    assert not [r for r in caplog.records if token in r.getMessage()]
    assert cloud.commands["GenerateRtspStream"] == 1


async def test_a_webrtc_camera_streams_h264_without_decoding(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    packets: list[MediaPacket] = []
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam:
        assert cam.info.profiles[0].token == "web_rtc"
        with anyio.fail_after(20):
            async with cam.stream() as stream, stream.packets(audio=False) as it:
                async for item in it:
                    if isinstance(item, MediaPacket):
                        packets.append(item)
                    if len(packets) >= 15:
                        break
                assert stream.stats().decoded_frames == 0
    assert packets[0].keyframe and stream.info.codec == "h264"
    assert cloud.commands["GenerateWebRtcStream"] == 1


async def test_a_wired_camera_extends_its_stream_before_expiry_without_a_break(
    short_cloud: NestCloud, short_options: dict[str, Any],
) -> None:
    async with camsdk.open(short_cloud.camera_url("Garage"), **short_options) as cam:
        _, marks = await read(cam, seconds=5)
    assert short_cloud.streams.extended >= 2
    assert [m for m in marks if m.reason == "reconnect"] == []
    assert short_cloud.commands["GenerateWebRtcStream"] == 1
    assert short_cloud.streams.lapsed == 0


async def test_a_battery_doorbell_gets_a_new_stream_before_expiry_with_a_discontinuity(
    short_cloud: NestCloud, short_options: dict[str, Any],
) -> None:
    async with camsdk.open(short_cloud.camera_url("Doorbell"), **short_options) as cam:
        packets, marks = await read(cam, seconds=8, until_marks=1)
    reconnects = [m for m in marks if m.reason == "reconnect"]
    assert len(reconnects) == 1
    assert short_cloud.commands["GenerateWebRtcStream"] == 2
    assert short_cloud.commands["ExtendWebRtcStream"] == 1  # asked once, then known
    assert short_cloud.streams.lapsed == 0  # replaced before it expired
    dts = [p.dts for p in packets if p.dts is not None]
    assert dts == sorted(dts)


async def test_a_refused_extension_by_error_is_a_refusal_too(
    short_options: dict[str, Any],
) -> None:
    async with NestCloud(stream_ttl=TTL, extension_refusal="error") as sim:
        store = MemoryTokenStore()
        await store.save(sim.tokens())
        options = {**short_options, **sim.options(), "token_store": store,
                   "credentials": sim.credentials}
        async with camsdk.open(sim.camera_url("Doorbell"), **options) as cam:
            _, marks = await read(cam, seconds=8, until_marks=1)
        assert sim.streams.refused == 1 and sim.streams.lapsed == 0
    assert [m.reason for m in marks].count("reconnect") == 1


async def test_closing_the_camera_stops_the_stream_on_googles_side(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam:
        await read(cam, seconds=0.5)
    await wait_until(lambda: cloud.streams.stopped == 1, timeout=5)
    assert cloud.commands["StopWebRtcStream"] == 1


async def test_an_offline_camera_is_not_asked_for_a_stream(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    cloud.set_online("Garage", False)
    async with camsdk.open(cloud.camera_url("Garage"),
                           **{**options, "config": {**FAST, "open_timeout": 1.0}}) as cam:
        with pytest.raises(camsdk.CamError):
            with anyio.fail_after(10):
                async with cam.stream():
                    pass
    assert cloud.commands["GenerateWebRtcStream"] == 0


class JumpingClock:
    """Virtual time for one sleeper (the lease keeper): each sleep jumps to its end.

    A sleep that reaches ``horizon`` does not return: the hour is over.
    """

    def __init__(self, horizon: float) -> None:
        self.now = 0.0
        self.horizon = horizon
        self.over = anyio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if self.now + seconds >= self.horizon:
            self.now = self.horizon
            self.over.set()
            await anyio.Event().wait()  # cancelled when the viewer stops
        self.now += max(0.0, seconds)


class Standin:
    """A live source that yields nothing until its lease ends it (leases, not media)."""

    live, finite = True, False
    info = None

    def __init__(self) -> None:
        self.closed = anyio.Event()

    def __aiter__(self) -> Standin:
        return self

    async def __anext__(self) -> MediaPacket:
        await self.closed.wait()
        raise camsdk.StreamEndedError("closed by its lease")

    async def aclose(self) -> None:
        self.closed.set()


@pytest.mark.parametrize("battery", [False, True], ids=["wired", "battery"])
async def test_an_hour_of_viewing_has_no_gap_from_expiry_and_the_extensions_it_needs(
    battery: bool,
) -> None:
    from camsdk.cloud import RateLimiter
    from camsdk.drivers.nest._quota import QuotaWindows
    from camsdk.drivers.nest._streams import StreamLeases
    from camsdk.testing._nest_cloud import SimDevice

    time = JumpingClock(3600.0)
    device = SimDevice("Cam", "CAMERA", "Hall", "Hall", protocol="RTSP", battery=battery)
    async with NestCloud(devices=[device], clock=time.clock, access_ttl=36000) as sim:
        store = MemoryTokenStore()
        await store.save(sim.tokens())
        options = {**sim.options(), "token_store": store, "credentials": sim.credentials}
        async with camsdk.open(sim.camera_url(device), **options) as cam:
            driver = cam._driver  # type: ignore[attr-defined]
            account = driver.account
            account.quota = QuotaWindows(clock=time.clock, sleep=time.sleep)
            account.limiter = account.cloud.limiter = RateLimiter(
                5.0, 10, clock=time.clock, sleep=time.sleep)
            leases = StreamLeases(driver, account, driver.device, clock=time.clock,
                                  sleep=time.sleep, wall=sim.now)

            async def view() -> None:
                async def standin(source: Any) -> Any:
                    return Standin()

                while True:
                    lease = await leases.rtsp(open_inner=standin)
                    try:
                        async for _ in lease:
                            pass
                    except camsdk.StreamEndedError:
                        sim.streams.sweep()  # anything past its expiry now is a gap
                    finally:
                        await lease.aclose()

            async with anyio.create_task_group() as viewers:
                viewers.start_soon(view)
                with anyio.fail_after(30):
                    await time.over.wait()
                viewers.cancel_scope.cancel()
        sim.streams.sweep()
    assert sim.streams.lapsed == 0
    if battery:  # asked once, then replaced 4 min into each 5-min stream
        assert (sim.commands["ExtendRtspStream"], sim.commands["GenerateRtspStream"]) == (1, 15)
    else:  # 5-min streams renewed 60 s early: (3600 - 300) / 240 -> 14 extensions
        assert (sim.commands["ExtendRtspStream"], sim.commands["GenerateRtspStream"]) == (14, 1)
