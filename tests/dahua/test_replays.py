"""`DahuaDriver` against replayed firmware answers (respx): five models, old and new firmware."""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import camsdk
from camsdk import AuthenticationError, Capability, EventKind
from camsdk.drivers.dahua import DahuaDriver

from ._helpers import CREDS, URL, CgiReplay, fixture_bytes

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("amcrest_ip2m841_v2420", ("IP2M-841B", "AMC0000REDACTED1", "Amcrest",
                                   "2.420.AC00.18.R, build : 2017-06-29", "Living Room",
                                   "9c:8e:cd:00:00:01")),
        ("dahua_ipc_hdw5231r_v2800", ("IPC-HDW5231R-ZE", "5F0000REDACTED2", "General",
                                      "2.800.0000016.0.R,build:2021-07-06", "Driveway",
                                      "e0:50:8b:00:00:02")),
        ("dahua_nvr5216_v4001", ("DHI-NVR5216-16P-4KS2E", "6G0000REDACTED3", "Dahua",
                                 "4.001.0000000.3.R,build:2022-03-08", "Front Gate",
                                 "38:af:29:00:00:03")),
        ("dahua_vto2202_v4300", ("DHI-VTO2202F-P", "7H0000REDACTED4", "Dahua",
                                 "4.300.0000001.0.R,build:2021-09-15", "Front Door VTO", "")),
        ("lorex_n841_v4000", ("N841A6", "ND0000REDACTED5", "Lorex",
                              "4.000.LX00.1, build : 2020-03-11", "CH1", "")),
    ],
)
async def test_identity_comes_from_the_devices_own_calls(
    replay_router: respx.Router, model: str, expected: tuple[str, ...]
) -> None:
    CgiReplay(replay_router, model)
    async with camsdk.open(URL + "/1", credentials=CREDS) as cam:
        info = cam.info
    assert (info.model, info.serial, info.vendor, info.firmware, info.name,
            info.hardware_id) == expected
    assert info.id == f"dahua:{expected[1]}/1"


@pytest.mark.parametrize(
    ("model", "profiles"),
    [
        ("amcrest_ip2m841_v2420", [("main", "h264", 1920, 1080, 25.0, "pcm_alaw"),
                                   ("sub", "h264", 640, 480, 15.0, None)]),
        ("dahua_ipc_hdw5231r_v2800", [("main", "hevc", 1920, 1080, 20.0, "aac"),
                                      ("sub", "h264", 704, 480, 15.0, None),
                                      ("third", "mjpeg", 1280, 720, 5.0, None)]),
        ("dahua_vto2202_v4300", [("main", "h264", 1280, 720, 25.0, "pcm_mulaw"),
                                 ("sub", "h264", 704, 576, 25.0, None)]),
        ("lorex_n841_v4000", [("main", "hevc", 2688, 1520, 15.0, None)]),
    ],
)
async def test_profiles_come_from_the_encode_config(
    replay_router: respx.Router, model: str, profiles: list[tuple[object, ...]]
) -> None:
    CgiReplay(replay_router, model)
    async with camsdk.open(URL + "/1", credentials=CREDS) as cam:
        found = [(p.name, p.codec, p.width, p.height, p.fps, p.audio_codec)
                 for p in cam.info.profiles]
    assert found == profiles


@pytest.mark.parametrize(
    ("model", "port"),
    [("amcrest_ip2m841_v2420", 5554), ("dahua_nvr5216_v4001", 10554),
     ("lorex_n841_v4000", 554)],
)
async def test_the_stream_url_uses_the_devices_rtsp_port_and_keeps_credentials_apart(
    replay_router: respx.Router, model: str, port: int
) -> None:
    CgiReplay(replay_router, model)
    driver = DahuaDriver(url=camsdk.driver.CameraURL.parse(URL + "/2"), credentials=CREDS) \
        if model != "amcrest_ip2m841_v2420" else \
        DahuaDriver(url=camsdk.driver.CameraURL.parse(URL + "/1"), credentials=CREDS)
    try:
        await driver.connect()
        source = await driver.stream_source("main")
    finally:
        await driver.close()
    channel = 1 if model == "amcrest_ip2m841_v2420" else 2
    assert source.url == (f"rtsp://cam.example.invalid:{port}/cam/realmonitor"
                          f"?channel={channel}&subtype=0")
    assert source.credentials == CREDS
    assert "fixture-Pw9" not in repr(source)


async def test_a_device_without_an_rtsp_config_offers_no_stream_unless_told_the_port(
    replay_router: respx.Router,
) -> None:
    replay = CgiReplay(replay_router, "dahua_ipc_hdw5231r_v2800")
    replay.overrides["/cgi-bin/configManager.cgi"] = httpx.Response(
        200, content=b"Error\r\nBad Request!\r\n")
    async with camsdk.open(URL, credentials=CREDS) as cam:
        assert Capability.STREAM not in cam.capabilities
    async with camsdk.open(URL, credentials=CREDS, rtsp_port=8554) as cam:
        assert Capability.STREAM in cam.capabilities


@pytest.mark.parametrize(
    ("model", "caps"),
    [
        ("amcrest_ip2m841_v2420", Capability.PTZ | Capability.PTZ_PRESETS
         | Capability.TWO_WAY_AUDIO | Capability.AUDIO),
        ("dahua_ipc_hdw5231r_v2800", Capability.AUDIO),
        ("dahua_nvr5216_v4001", Capability.NONE),
        ("dahua_vto2202_v4300", Capability.TWO_WAY_AUDIO | Capability.AUDIO),
    ],
)
async def test_capabilities_are_narrowed_to_what_the_device_reports(
    replay_router: respx.Router, model: str, caps: Capability
) -> None:
    CgiReplay(replay_router, model)
    async with camsdk.open(URL, credentials=CREDS) as cam:
        found = cam.capabilities
    base = Capability.SNAPSHOT | Capability.STREAM | Capability.RECORD | Capability.EVENTS
    assert found == base | caps


async def test_old_basic_only_firmware_gets_basic_when_it_asks_for_it(
    replay_router: respx.Router,
) -> None:
    replay = CgiReplay(replay_router, "amcrest_ip2m841_v2420", auth="basic")
    async with camsdk.open(URL, credentials=CREDS) as cam:
        assert cam.info.model == "IP2M-841B"
    sent = [r.headers.get("authorization", "") for r in replay.requests]
    assert all(s.startswith("Basic ") for s in sent if s)


async def test_a_digest_device_never_sees_the_password_in_basic(
    replay_router: respx.Router,
) -> None:
    replay = CgiReplay(replay_router, "dahua_ipc_hdw5231r_v2800")
    async with camsdk.open(URL, credentials=CREDS):
        pass
    sent = [r.headers.get("authorization", "") for r in replay.requests]
    assert sent and all(not s.startswith("Basic") for s in sent)


async def test_a_refused_login_is_one_authentication_error_and_no_more_requests(
    replay_router: respx.Router,
) -> None:
    replay = CgiReplay(replay_router, "dahua_ipc_hdw5231r_v2800")
    replay.overrides["/cgi-bin/magicBox.cgi"] = httpx.Response(
        401, headers={"WWW-Authenticate": 'Digest realm="x", nonce="n", qop="auth"'})
    cam = camsdk.open(URL, credentials=CREDS)
    with pytest.raises(AuthenticationError) as info:
        await cam.connect()
    await cam.aclose()
    assert "fixture-Pw9" not in str(info.value)
    assert len([r for r in replay.requests if "authorization" in r.headers]) == 1


@pytest.mark.parametrize(
    ("model", "channel", "expected"),
    [
        ("amcrest_ip2m841_v2420", 1, [(EventKind.MOTION, True), (EventKind.MOTION, False)]),
        ("dahua_ipc_hdw5231r_v2800", 1, [(EventKind.PERSON, True),
                                         (EventKind.LINE_CROSSING, True),
                                         (EventKind.LINE_CROSSING, False)]),
        ("dahua_nvr5216_v4001", 2, [(EventKind.MOTION, True), (EventKind.INPUT, True),
                                    (EventKind.MOTION, False)]),
        ("dahua_vto2202_v4300", 1, [(EventKind.DOORBELL, True), (EventKind.DOORBELL, False),
                                    (EventKind.DOORBELL, True), (EventKind.DOORBELL, False)]),
    ],
)
async def test_recorded_event_streams_arrive_normalised(
    replay_router: respx.Router, model: str, channel: int,
    expected: list[tuple[EventKind, bool]],
) -> None:
    CgiReplay(replay_router, model)
    found = []
    config = {"backoff_base": 5.0, "backoff_cap": 5.0}
    async with camsdk.open(f"{URL}/{channel}", credentials=CREDS, config=config) as cam:
        with anyio.fail_after(10):
            async with cam.events(kinds=set(EventKind) - {EventKind.CONNECTION}) as events:
                async for event in events:
                    found.append(event)
                    if len(found) == len(expected):
                        break
    assert [(e.kind, e.active) for e in found] == expected
    assert all(e.vendor == "dahua" and e.extra["code"] == e.topic for e in found)


async def test_the_start_and_end_of_one_activity_share_an_event_id(
    replay_router: respx.Router,
) -> None:
    CgiReplay(replay_router, "dahua_ipc_hdw5231r_v2800")
    found = []
    async with camsdk.open(URL, credentials=CREDS,
                           config={"backoff_base": 5.0, "backoff_cap": 5.0}) as cam:
        with anyio.fail_after(10):
            async with cam.events(kinds={EventKind.LINE_CROSSING}) as events:
                async for event in events:
                    found.append(event)
                    if len(found) == 2:
                        break
    start, end = found
    assert start.event_id == end.event_id
    assert start.zone == end.zone == "Gate line"
    assert end.ended_at is not None


def test_fixture_streams_look_like_firmware() -> None:
    assert fixture_bytes("amcrest_ip2m841_v2420", "eventManager.attach.bin").startswith(
        b"--myboundary\r\n")
