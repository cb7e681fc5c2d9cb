"""Specification of the ``virtual://`` camera driver and hub, at the driver contract level.

These tests call the driver API directly (connect, open_stream, events, ptz,
close), not the `camsdk.Camera` facade. Streams are tiny (160x120 at 30 fps,
half-second loops) so real-time pacing costs little; no test sleeps to
synchronise, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from camsdk._driver import PacketSource
from camsdk._errors import (
    AuthenticationError,
    CameraClosedError,
    CameraUnreachableError,
    ConfigurationError,
    UnsupportedCapabilityError,
)
from camsdk._media import MediaPacket
from camsdk._models import CameraConfig, CameraEvent, Capability, EventKind, PTZStatus
from camsdk._url import CameraURL
from camsdk.drivers.virtual import (
    Fault,
    ScriptedEvent,
    VirtualDriver,
    VirtualHub,
    VirtualHubOptions,
    VirtualOptions,
    live_device_names,
    virtual_device,
)

pytestmark = pytest.mark.anyio

FAST = "fps=30&size=160x120&gop=15&loop_seconds=0.5"
FRAME = 3000  # one frame at 30 fps in 1/90000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", autouse=True)
def loop_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Encoded loops go to a private cache directory, shared by this module's tests."""
    path = tmp_path_factory.mktemp("virtual-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAMSDK_CACHE_DIR", str(path))
        yield path


@pytest.fixture(autouse=True)
def no_leaked_devices() -> Iterator[None]:
    """Every test must leave the device registry empty."""
    yield
    if live_device_names():  # refcounting frees devices at once; give cycles a chance too
        gc.collect()
    assert live_device_names() == frozenset()


@contextlib.asynccontextmanager
async def camera(url: str, **options: Any) -> AsyncIterator[VirtualDriver]:
    """A driver that is closed however the test ends."""
    driver = VirtualDriver.from_url(url, **options)
    try:
        yield driver
    finally:
        await driver.close()


@contextlib.asynccontextmanager
async def stream(driver: VirtualDriver, profile: str = "main") -> AsyncIterator[PacketSource]:
    source = await driver.open_stream(profile)
    try:
        yield source
    finally:
        await source.aclose()


async def take(source: PacketSource, count: int, kind: str | None = None) -> list[MediaPacket]:
    """The next ``count`` packets (of ``kind`` if given)."""
    out: list[MediaPacket] = []
    with anyio.fail_after(10):
        async for packet in source:
            if kind is None or packet.kind == kind:
                out.append(packet)
                if len(out) == count:
                    break
    return out


async def next_packet(source: PacketSource) -> MediaPacket:
    return await source.__aiter__().__anext__()


def now() -> float:
    return asyncio.get_running_loop().time()


# -- options -----------------------------------------------------------------------------


def test_options_defaults() -> None:
    opts = VirtualOptions()
    assert (opts.fps, opts.size, opts.codec) == (15, (1280, 720), "h264")
    assert opts.keyframe_interval == 30
    assert (opts.audio, opts.ptz, opts.battery, opts.events, opts.fail) == (
        False,
        True,
        False,
        (),
        (),
    )


def test_options_parse_query_text() -> None:
    opts = VirtualOptions.from_query(
        {
            "fps": "25",
            "size": "640x360",
            "codec": "hevc",
            "gop": "10",
            "bitrate": "1M",
            "audio": "1",
            "events": "motion:5s,person:500ms,doorbell:1m",
            "ptz": "false",
            "battery": "true",
            "fail": "corrupt_dts,drop_after:100",
            "loop_seconds": "2.5",
        }
    )
    assert (opts.fps, opts.size, opts.codec, opts.gop, opts.bitrate) == (
        25,
        (640, 360),
        "hevc",
        10,
        1_000_000,
    )
    assert (opts.audio, opts.ptz, opts.battery, opts.loop_seconds) == (True, False, True, 2.5)
    assert opts.events == (
        ScriptedEvent(EventKind.MOTION, 5.0),
        ScriptedEvent(EventKind.PERSON, 0.5),
        ScriptedEvent(EventKind.DOORBELL, 60.0),
    )
    assert opts.fail == (Fault("corrupt_dts"), Fault("drop_after", 100))


def test_options_accept_typed_keywords() -> None:
    opts = VirtualOptions.model_validate(
        {"size": (320, 240), "audio": True, "events": {"motion": 2}, "fail": ["auth"]}
    )
    assert opts.size == (320, 240)
    assert opts.events == (ScriptedEvent(EventKind.MOTION, 2.0),)
    assert opts.fail == (Fault("auth"),)


def test_options_render_back_to_equal_query() -> None:
    opts = VirtualOptions.from_query(
        {"size": "320x240", "audio": "yes", "events": "motion:200ms", "fail": "stall_after:7"}
    )
    query = opts.to_query()
    assert query == {
        "size": "320x240",
        "audio": "1",
        "events": "motion:200ms",
        "fail": "stall_after:7",
    }
    assert VirtualOptions.from_query(query) == opts


@pytest.mark.parametrize(
    "query",
    [
        {"fps": "0"},
        {"fps": "fast"},
        {"size": "big"},
        {"size": "161x120"},
        {"codec": "vp8"},
        {"gop": "0"},
        {"bitrate": "10"},
        {"events": "unicorn:5s"},
        {"events": "motion"},
        {"events": "motion:soon"},
        {"fail": "explode"},
        {"fail": "stall_after"},
        {"fail": "auth:3"},
        {"loop_seconds": "0"},
        {"colour": "red"},
    ],
)
def test_bad_options_are_configuration_errors(query: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        VirtualOptions.from_query(query)


def test_bad_query_option_fails_at_driver_construction() -> None:
    with pytest.raises(ConfigurationError, match="events"):
        VirtualDriver.from_url("virtual://cam?events=dragon:5s")


async def test_driver_takes_the_options_model_the_facade_builds() -> None:
    url = CameraURL.parse("virtual://cam?fps=30&size=160x120")
    options = VirtualOptions.model_validate({**url.options, "audio": True})
    driver = VirtualDriver(
        url=url, credentials=None, config=CameraConfig.model_validate({}), options=options
    )
    try:
        assert driver.options is options
        assert Capability.AUDIO in driver.capabilities
    finally:
        await driver.close()


@pytest.mark.parametrize("url", ["virtual://cam/extra", "virtual://-bad-", "virtual://cam:554"])
def test_bad_camera_name_is_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        VirtualDriver.from_url(url)


# -- identity ----------------------------------------------------------------------------


async def test_connect_reports_identity_and_profiles() -> None:
    async with camera(f"virtual://Porch?{FAST}&audio=1") as driver:
        info = await driver.connect()
    assert info.id == driver.camera_id == "virtual:porch"
    assert (info.vendor, info.model) == ("camsdk", "Virtual camera")
    assert info.firmware
    assert info.serial.startswith("VC") and len(info.serial) == 12
    main, sub = info.profiles
    assert (main.name, main.codec, main.width, main.height, main.fps) == (
        "main",
        "h264",
        160,
        120,
        30.0,
    )
    assert (sub.name, sub.width, sub.height, sub.audio_codec) == ("sub", 80, 60, "aac")


async def test_serial_is_stable_per_name() -> None:
    async with camera("virtual://a") as a, camera("virtual://b") as b:
        first, second = await a.connect(), await b.connect()
    async with camera("virtual://a") as again:
        assert (await again.connect()).serial == first.serial != second.serial


def test_driver_declares_what_it_can_do() -> None:
    assert VirtualDriver.schemes == ("virtual",)
    assert VirtualDriver.display_name == "Virtual camera"
    for cap in ("SNAPSHOT", "STREAM", "AUDIO", "EVENTS", "PTZ", "PTZ_PRESETS", "RECORD", "BATTERY"):
        assert Capability[cap] in VirtualDriver.declared_capabilities


async def test_capabilities_follow_the_options() -> None:
    async with camera("virtual://plain") as plain:
        await plain.connect()
        caps = plain.capabilities
        assert Capability.PTZ in caps and Capability.EVENTS in caps
        assert Capability.AUDIO not in caps and Capability.BATTERY not in caps
        assert plain.battery_powered is False
    async with camera("virtual://doorbell?audio=1&ptz=0&battery=1") as bell:
        await bell.connect()
        caps = bell.capabilities
        assert Capability.AUDIO in caps and Capability.BATTERY in caps
        assert Capability.PTZ not in caps and Capability.PTZ_PRESETS not in caps
        assert bell.battery_powered is True


async def test_unknown_profile_is_configuration_error() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver:
        await driver.connect()
        with pytest.raises(ConfigurationError, match="profile"):
            await driver.open_stream("ultra")


# -- streaming ---------------------------------------------------------------------------


async def test_stream_starts_with_keyframe_and_repeats_every_gop() -> None:
    async with camera(f"virtual://cam?{FAST}&gop=5") as driver, stream(driver) as source:
        assert (source.info.codec, source.info.width, source.info.height) == ("h264", 160, 120)
        assert source.info.extradata
        video = await take(source, 20)
    assert [p.keyframe for p in video] == [i % 5 == 0 for i in range(20)]


async def test_timestamps_keep_increasing_across_the_loop_boundary() -> None:
    # A 0.5 s loop at 30 fps is 15 frames: 20 frames cross the boundary.
    async with camera(f"virtual://cam?{FAST}") as driver, stream(driver) as source:
        video = await take(source, 20)
    assert [p.dts for p in video] == [i * FRAME for i in range(20)]
    assert [p.pts for p in video] == [p.dts for p in video]
    assert [p.keyframe for p in video] == [i % 15 == 0 for i in range(20)]


async def test_stream_is_paced_in_real_time() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver, stream(driver) as source:
        await next_packet(source)
        started = now()
        await take(source, 15)
        elapsed = now() - started
    assert 0.45 <= elapsed < 0.8  # 15 frames at 30 fps are due 0.5 s after the first


async def test_a_slow_consumer_catches_up_instead_of_drifting() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver, stream(driver) as source:
        first = await next_packet(source)
        await anyio.sleep(0.3)  # the consumer is busy elsewhere; ~9 frames fall due meanwhile
        started = now()
        backlog = await take(source, 8)
        assert now() - started < 0.1
        assert backlog[-1].dts == (first.dts or 0) + 8 * FRAME


async def test_received_at_is_stamped_when_the_packet_is_yielded() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver, stream(driver) as source:
        await next_packet(source)
        before = time.monotonic()
        packet = await next_packet(source)
        assert before <= packet.received_at <= time.monotonic()


async def test_sub_profile_streams_the_half_size_loop() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver, stream(driver, "sub") as source:
        assert (source.info.width, source.info.height) == (80, 60)
        (packet,) = await take(source, 1)
    assert packet.keyframe


async def test_audio_is_interleaved_by_time() -> None:
    async with camera(f"virtual://cam?{FAST}&audio=1") as driver, stream(driver) as source:
        assert (source.info.audio_codec, source.info.audio_sample_rate) == ("aac", 16_000)
        packets = await take(source, 30)  # 0.6 s: past the loop boundary
    kinds = {p.kind for p in packets}
    times = [p.time or 0.0 for p in packets]
    assert kinds == {"video", "audio"}
    assert times == sorted(times)
    assert times[-1] > 0.5  # crossed the loop boundary
    audio = [p.dts or 0 for p in packets if p.kind == "audio"]
    assert audio == sorted(set(audio))  # strictly increasing, also across the loop boundary


async def test_without_audio_only_video_flows() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver, stream(driver) as source:
        assert source.info.audio_codec is None
        packets = await take(source, 20)
    assert {p.kind for p in packets} == {"video"}


async def test_waiting_for_a_packet_can_be_cancelled() -> None:
    slow = "virtual://cam?fps=2&size=160x120&gop=2&loop_seconds=1"
    async with camera(slow) as driver, stream(driver) as source:
        await next_packet(source)
        with anyio.move_on_after(0.05) as scope:
            await next_packet(source)  # due in 0.5 s
        assert scope.cancelled_caught
        with anyio.fail_after(2):
            packet = await next_packet(source)
        assert packet.dts == 45_000  # nothing was lost or skipped by the cancellation


async def test_aclose_is_idempotent_and_ends_iteration() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver:
        device = driver.device
        source = await driver.open_stream("main")
        assert device.streams_open == 1
        await take(source, 3)
        await source.aclose()
        await source.aclose()
        assert device.streams_open == 0
        assert await take(source, 1) == []
        assert device.packets_sent == 3


async def test_closing_the_driver_closes_its_streams() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver:
        source = await driver.open_stream("main")
        await driver.close()
        assert await take(source, 1) == []
        with pytest.raises(CameraClosedError):
            await driver.open_stream("main")


# -- faults ------------------------------------------------------------------------------


async def test_auth_fault_rejects_connect_and_stream() -> None:
    async with camera(f"virtual://cam?{FAST}&fail=auth") as driver:
        with pytest.raises(AuthenticationError):
            await driver.connect()
        with pytest.raises(AuthenticationError):
            await driver.open_stream("main")
        assert driver.device.connects == 1


async def test_timeout_fault_never_answers_until_cancelled() -> None:
    async with camera(f"virtual://cam?{FAST}&fail=timeout") as driver:
        with anyio.move_on_after(0.1) as connecting:
            await driver.connect()
        assert connecting.cancelled_caught
        with anyio.move_on_after(0.1) as opening:
            await driver.open_stream("main")
        assert opening.cancelled_caught


async def test_stall_after_stops_yielding_without_ending() -> None:
    url = f"virtual://cam?{FAST}&fail=stall_after:3"
    async with camera(url) as driver, stream(driver) as source:
        assert len(await take(source, 3)) == 3
        with anyio.move_on_after(0.3) as waiting:  # ten frame intervals
            await next_packet(source)
        assert waiting.cancelled_caught

        # Closing the source releases a consumer stuck in the stall.
        received: list[MediaPacket] = []

        async def consume() -> None:
            received.extend(await take(source, 1))

        with anyio.fail_after(2):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await anyio.wait_all_tasks_blocked()
                await source.aclose()
        assert received == []


async def test_drop_after_raises_unreachable_on_every_connection() -> None:
    async with camera(f"virtual://cam?{FAST}&fail=drop_after:4") as driver:
        for _ in range(2):
            source = await driver.open_stream("main")
            with pytest.raises(CameraUnreachableError, match="connection dropped"):
                await take(source, 10)
            assert source.closed  # type: ignore[attr-defined]
            assert driver.device.streams_open == 0
        assert driver.device.packets_sent == 8


async def test_injected_drop_counts_from_injection_and_fires_once() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver:
        device = driver.device
        async with stream(driver) as source:
            await take(source, 3)
            device.inject_fault("drop_after:2")
            assert len(await take(source, 2)) == 2
            with pytest.raises(CameraUnreachableError):
                await next_packet(source)
        async with stream(driver) as reconnected:
            assert len(await take(reconnected, 5)) == 5  # the fault was consumed


async def test_injected_fault_applies_to_future_connects_until_cleared() -> None:
    device = virtual_device("cam")
    device.inject_fault("auth")
    async with camera(f"virtual://cam?{FAST}") as driver:
        with pytest.raises(AuthenticationError):
            await driver.connect()
        device.clear_faults()
        await driver.connect()
        async with stream(driver) as source:
            await take(source, 2)
            device.inject_fault("auth")  # credentials changed while streaming
            with pytest.raises(AuthenticationError):
                await next_packet(source)
    assert device.connects == 2


async def test_injected_stall_reaches_an_open_stream_at_its_next_packet() -> None:
    async with camera(f"virtual://cam?{FAST}") as driver, stream(driver) as source:
        await take(source, 2)
        driver.device.inject_fault("stall_after:0")
        with anyio.move_on_after(0.3) as waiting:
            await next_packet(source)
        assert waiting.cancelled_caught


async def test_corrupt_dts_moves_every_tenth_video_packet_back_five_frames() -> None:
    url = f"virtual://cam?{FAST}&fail=corrupt_dts"
    async with camera(url) as driver, stream(driver) as source:
        video = await take(source, 20)
    for i, packet in enumerate(video, start=1):
        expected = (i - 1) * FRAME - (5 * FRAME if i % 10 == 0 else 0)
        assert (packet.dts, packet.pts) == (expected, expected)


def test_inject_fault_rejects_unknown_specs() -> None:
    device = virtual_device("cam")
    with pytest.raises(ConfigurationError):
        device.inject_fault("meltdown")


# -- the shared device ---------------------------------------------------------------------


async def test_cameras_on_one_name_share_one_device() -> None:
    async with camera(f"virtual://shed?{FAST}") as a, camera(f"virtual://SHED?{FAST}") as b:
        assert a.device is b.device is virtual_device("shed")
        await a.connect()
        await b.connect()
        async with stream(a) as sa, stream(b, "sub") as sb:
            await take(sa, 2)
            await take(sb, 3)
            assert a.device.streams_open == 2
        assert a.device.connects == 2
        assert a.device.packets_sent == 5
    async with camera("virtual://other") as c:
        assert c.device.connects == 0


async def test_devices_are_released_when_their_drivers_close() -> None:
    async with camera(f"virtual://temp?{FAST}") as driver:
        await driver.connect()
        source = await driver.open_stream("main")
        await take(source, 1)
        assert "temp" in live_device_names()
    del driver
    gc.collect()
    assert "temp" not in live_device_names()
    assert source.info.width == 160  # a closed source stays readable, without the device


# -- events ------------------------------------------------------------------------------


async def next_event(events: Any) -> CameraEvent:
    with anyio.fail_after(5):
        event: CameraEvent = await events.__anext__()
    return event


async def test_injected_event_reaches_every_listening_camera() -> None:
    async with camera("virtual://gate") as a, camera("virtual://gate") as b:
        listeners = [a.events(), b.events()]
        sent = virtual_device("gate").inject_event(
            EventKind.PERSON, score=0.8, zone="drive", extra={"note": "x"}
        )
        for events in listeners:
            event = await next_event(events)
            assert event == sent
        assert (event.kind, event.active, event.score, event.zone) == (
            EventKind.PERSON,
            True,
            0.8,
            "drive",
        )
        assert (event.vendor, event.topic, event.camera_id) == (
            "camsdk",
            "virtual/person",
            "virtual:gate",
        )
        assert isinstance(event.device_time, datetime)
        assert event.extra["note"] == "x"


async def test_injected_end_shares_the_start_event_id() -> None:
    async with camera("virtual://gate") as driver:
        events = driver.events()
        device = driver.device
        device.inject_event(EventKind.MOTION)
        device.inject_event(EventKind.MOTION, active=False)
        start, end = await next_event(events), await next_event(events)
    assert (start.active, end.active) == (True, False)
    assert start.event_id == end.event_id
    assert end.ended_at is not None and end.started_at == start.started_at


async def test_inject_event_works_without_a_script_and_rejects_unknown_kinds() -> None:
    async with camera("virtual://gate") as driver:
        assert driver.options.events == ()
        with pytest.raises(ConfigurationError):
            driver.device.inject_event("dragon")


async def test_scripted_events_start_and_end_with_one_id() -> None:
    async with camera("virtual://yard?events=motion:200ms") as driver:
        events = driver.events()
        started = now()
        start = await next_event(events)
        at_start = now() - started
        end = await next_event(events)
        at_end = now() - started
    assert (start.kind, start.active, start.score, start.zone) == (
        EventKind.MOTION,
        True,
        0.9,
        "scene",
    )
    assert (end.active, end.event_id) == (False, start.event_id)
    assert 0.19 <= at_start < 0.4  # one period after subscribing
    assert 0.29 <= at_end < 0.5  # half a period later
    assert start.device_time is not None and start.camera_id == "virtual:yard"


async def test_scripts_of_several_kinds_interleave() -> None:
    async with camera("virtual://yard?events=motion:100ms,person:150ms") as driver:
        events = driver.events()
        seen = [await next_event(events) for _ in range(6)]
    starts = [(e.kind, e.active) for e in seen if e.active]
    assert (EventKind.MOTION, True) in starts and (EventKind.PERSON, True) in starts
    ids = [e.event_id for e in seen if e.active]
    assert len(ids) == len(set(ids))


async def test_events_run_only_while_iterated() -> None:
    async with camera("virtual://yard?events=motion:100ms") as driver:
        tasks = asyncio.all_tasks()
        events = driver.events()
        assert asyncio.all_tasks() == tasks  # no background task
        await next_event(events)
        assert asyncio.all_tasks() == tasks


async def test_closing_the_driver_ends_its_events_iterator() -> None:
    async with camera("virtual://yard") as driver:
        events = driver.events()
        received: list[CameraEvent] = []

        async def listen() -> None:
            async for event in events:
                received.append(event)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(listen)
                await anyio.wait_all_tasks_blocked()
                await driver.close()
        assert received == []


async def test_auth_fault_refuses_event_subscriptions() -> None:
    async with camera("virtual://yard?fail=auth") as driver:
        with pytest.raises(AuthenticationError):
            await next_event(driver.events())


# -- PTZ ---------------------------------------------------------------------------------


async def test_continuous_move_integrates_speed_over_time() -> None:
    async with camera("virtual://dome") as driver:
        ptz = driver.ptz()
        before = now()
        await ptz.continuous_move(0.5, -0.5, 0.0)
        await anyio.sleep(0.1)  # let the head travel; measured below, not assumed
        moving = await ptz.status()
        after = now()
        await ptz.stop()
        stopped = await ptz.status()
        assert moving.moving and not stopped.moving
        assert 0.0 < moving.pan <= 0.5 * (after - before) + 1e-9
        assert moving.tilt == pytest.approx(-moving.pan)
        assert (await ptz.status()) == stopped  # stays put after stop


async def test_moves_are_clamped_at_the_end_stops() -> None:
    async with camera("virtual://dome") as driver:
        ptz = driver.ptz()
        await ptz.absolute_move(0.99, -0.99, 0.99)
        await ptz.continuous_move(1.0, -1.0, 1.0)
        await anyio.sleep(0.05)
        assert await ptz.status() == PTZStatus(pan=1.0, tilt=-1.0, zoom=1.0, moving=False)
        await ptz.relative_move(-3.0, 0.5, -5.0)
        assert await ptz.status() == PTZStatus(pan=-1.0, tilt=-0.5, zoom=0.0, moving=False)


async def test_absolute_move_rejects_positions_out_of_range() -> None:
    async with camera("virtual://dome") as driver:
        ptz = driver.ptz()
        await ptz.absolute_move(0.25, -0.5, 0.75)
        assert await ptz.status() == PTZStatus(pan=0.25, tilt=-0.5, zoom=0.75)
        with pytest.raises(ConfigurationError):
            await ptz.absolute_move(0.0, 0.0, -0.1)
        with pytest.raises(ConfigurationError):
            await ptz.continuous_move(2.0, 0.0, 0.0)


async def test_presets_store_and_recall_positions() -> None:
    async with camera("virtual://dome") as driver:
        ptz = driver.ptz()
        assert ptz.supports_presets
        assert [(p.token, p.name) for p in await ptz.presets()] == [("1", "home")]
        await ptz.absolute_move(0.5, 0.25, 0.5)
        door = await ptz.set_preset("door")
        assert door.token == "2"
        await ptz.home()
        assert await ptz.status() == PTZStatus()
        await ptz.goto_preset(door.token)
        assert await ptz.status() == PTZStatus(pan=0.5, tilt=0.25, zoom=0.5)
        await ptz.goto_preset("1")
        assert await ptz.status() == PTZStatus()
        with pytest.raises(ConfigurationError):
            await ptz.goto_preset("99")
        assert [p.name for p in await ptz.presets()] == ["home", "door"]


async def test_cameras_on_one_name_share_the_ptz_head() -> None:
    async with camera("virtual://dome") as a, camera("virtual://dome") as b:
        await a.ptz().absolute_move(-0.5, 0.5, 0.1)
        await a.ptz().set_preset("gate")
        expected = PTZStatus(pan=-0.5, tilt=0.5, zoom=0.1)
        assert await b.ptz().status() == expected
        assert a.device.ptz_status() == expected
        assert [p.name for p in await b.ptz().presets()] == ["home", "gate"]


async def test_ptz_is_unsupported_when_disabled() -> None:
    async with camera("virtual://fixed?ptz=0") as driver:
        with pytest.raises(UnsupportedCapabilityError):
            driver.ptz()


async def test_ptz_refuses_commands_after_close() -> None:
    async with camera("virtual://dome") as driver:
        ptz = driver.ptz()
        await driver.close()
        with pytest.raises(CameraClosedError):
            await ptz.status()


# -- hub ---------------------------------------------------------------------------------


def make_hub(url: str) -> VirtualHub:
    parsed = CameraURL.parse(url)
    return VirtualHub(
        url=parsed,
        credentials=None,
        config=CameraConfig.model_validate({}),
        options=VirtualHubOptions.from_query(parsed.options),
    )


async def test_hub_lists_cameras_with_the_shared_options() -> None:
    hub = make_hub("virtual://site?cameras=3&fps=30&size=160x120&events=motion:5s")
    await hub.connect()
    cameras = await hub.cameras()
    assert [(c.id, c.name) for c in cameras] == [
        ("site-1", "Site camera 1"),
        ("site-2", "Site camera 2"),
        ("site-3", "Site camera 3"),
    ]
    assert cameras[1].url == "virtual://site-2?fps=30&size=160x120&events=motion:5s"
    await hub.close()


async def test_hub_builds_drivers_for_its_cameras() -> None:
    hub = make_hub(f"virtual://site?cameras=2&{FAST}")
    await hub.connect()
    listed = await hub.cameras()
    config = CameraConfig.model_validate({"connect_timeout": 3})
    driver = hub.camera_driver(listed[0], config)
    try:
        assert isinstance(driver, VirtualDriver)
        assert driver.config is config
        assert (driver.options.fps, driver.options.size) == (30, (160, 120))
        assert (await driver.connect()).id == "virtual:site-1"
    finally:
        await driver.close()
    stranger = listed[0].__class__(id="elsewhere-1", name="x", url="virtual://elsewhere-1")
    with pytest.raises(ConfigurationError):
        hub.camera_driver(stranger, config)
    await hub.close()


@pytest.mark.parametrize("count", ["-1", "65", "many"])
def test_hub_rejects_bad_camera_counts(count: str) -> None:
    with pytest.raises(ConfigurationError):
        make_hub(f"virtual://site?cameras={count}")


async def test_hub_with_no_cameras_lists_none() -> None:
    hub = make_hub("virtual://empty?cameras=0")
    await hub.connect()
    assert await hub.cameras() == []


async def test_hub_login_honours_the_auth_fault() -> None:
    hub = make_hub("virtual://site?fail=auth")
    with pytest.raises(AuthenticationError):
        await hub.connect()
