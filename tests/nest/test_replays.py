"""respx replays of Google's answers at Google's own hosts (redacted, see fixtures/README.md):
projects of Nest-app and Google-Home devices, event messages, errors and hostile answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

import camsdk
from camsdk import EventKind
from camsdk.cloud import MemoryTokenStore, TokenSet
from camsdk.drivers.nest._messages import EventMapper

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
SDM = f"https://smartdevicemanagement.googleapis.com/v1/enterprises/{PROJECT}"
IQ = "AVPHwEsNestCamIQIndoorXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
async def replay_options() -> dict[str, Any]:
    store = MemoryTokenStore()
    await store.save(TokenSet(
        scheme="nest", account=PROJECT, access_token=SecretStr("ya29.replay-access-token"),
        refresh_token=SecretStr("1//replay-refresh-token"),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        extra={"client_id": "replay.apps.googleusercontent.com",
               "client_secret": "replay-client-secret"}))
    return {"token_store": store, "config": {"request_timeout": 5.0, "connect_timeout": 5.0}}


@pytest.fixture
def google() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(f"{SDM}/structures").respond(200, json=fixture("structures.json"))
        yield router


async def test_a_nest_app_project_lists_rtsp_cameras_a_doorbell_and_a_hub_max(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    google.get(f"{SDM}/devices").respond(200, json=fixture("devices_nest_app.json"))
    async with camsdk.hub(f"nest://{PROJECT}", **replay_options) as hub:
        listing = await hub.listing()
    assert [(c.name, c.extra["model"], c.extra["protocols"], c.online) for c in listing] == [
        ("Living Room", "Nest Camera", ["RTSP"], True),
        ("Front door", "Nest Doorbell", ["RTSP"], True),
        ("Kitchen display", "Nest Display", ["RTSP"], True),
    ]
    assert {c.extra["structure"] for c in listing} == {"Lake House"}
    sent = google.calls.last.request
    assert sent.headers["authorization"] == "Bearer ya29.replay-access-token"


async def test_a_google_home_project_lists_webrtc_cameras(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    google.get(f"{SDM}/devices").respond(200, json=fixture("devices_google_home.json"))
    async with camsdk.hub(f"nest://{PROJECT}", **replay_options) as hub:
        listing = await hub.listing()
    assert [c.name for c in listing] == ["Backyard", "Front Door", "Driveway", "Nursery",
                                         "Garage"]
    assert all(c.extra["protocols"] == ["WEB_RTC"] and c.online for c in listing)
    door = listing[1]
    assert "CameraClipPreview" in door.extra["traits"] and door.extra["room"] == "Front Door"


async def test_a_legacy_camera_reports_its_size_audio_and_place(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    record = fixture("devices_nest_app.json")["devices"][0]
    google.get(f"{SDM}/devices/{IQ}").respond(200, json=record)
    async with camsdk.open(f"nest://{PROJECT}/{IQ}", **replay_options) as cam:
        info, caps = cam.info, cam.capabilities
    profile = info.profiles[0]
    assert (profile.width, profile.height, profile.codec, profile.audio_codec) == (
        640, 480, "h264", "aac")
    assert info.location == "Lake House / Living Room" and info.name == "Living Room"
    assert camsdk.Capability.EVENTS not in caps  # no subscription= given
    assert camsdk.Capability.STREAM | camsdk.Capability.SNAPSHOT in caps


def test_event_messages_of_the_nest_app_map_to_kinds_with_their_ids() -> None:
    mapper = EventMapper()
    events = [e for m in fixture("events_nest_app.json") for _, e in mapper.map(m, {})]
    assert [(e.kind, e.active) for e in events] == [
        (EventKind.SOUND, True), (EventKind.DOORBELL, True), (EventKind.PERSON, True)]
    assert events[1].event_id == events[2].event_id  # one session, two kinds
    assert events[0].device_time == datetime(2022, 2, 23, 6, 5, 16, 20000, tzinfo=UTC)
    assert mapper.skipped == 1  # the relation update


def test_an_event_thread_ends_every_kind_it_carried_and_keeps_its_clip() -> None:
    mapper = EventMapper()
    events = [e for m in fixture("events_threads.json") for _, e in mapper.map(m, {})]
    assert [(e.kind, e.active) for e in events] == [
        (EventKind.DOORBELL, True), (EventKind.PERSON, True),
        (EventKind.DOORBELL, False), (EventKind.PERSON, False)]
    assert {e.event_id for e in events} == {"d67cd55f-ThreadAAAAAAAAAAAA"}
    media = mapper.media["AVPHwEuNestDoorbellBatteryXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"]
    assert media.clip is not None and media.clip.ref.endswith("preview-AAAA.mp4")


async def test_an_oversized_device_list_is_refused_at_the_cap(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    google.get(f"{SDM}/devices").respond(
        200, content=b"{}", headers={"Content-Length": str(64 * 1024 * 1024)})
    with pytest.raises(camsdk.CameraProtocolError, match="cap"):
        await camsdk.hub(f"nest://{PROJECT}", **replay_options).connect()


async def test_a_proxy_error_page_is_a_typed_unreachable_error(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    google.get(f"{SDM}/devices").respond(
        502, content=b"<html><body>502 Bad Gateway</body></html>",
        headers={"Content-Type": "text/html"})
    with pytest.raises(camsdk.CameraUnreachableError, match="HTTP 502"):
        await camsdk.hub(f"nest://{PROJECT}", **replay_options).connect()


async def test_a_device_list_that_is_not_json_is_a_protocol_error(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    google.get(f"{SDM}/devices").respond(200, content=b"\x00\xff garbage")
    with pytest.raises(camsdk.CameraProtocolError, match="JSON"):
        await camsdk.hub(f"nest://{PROJECT}", **replay_options).connect()


async def test_malformed_device_records_are_skipped_not_fatal(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    good = fixture("devices_nest_app.json")["devices"][0]
    google.get(f"{SDM}/devices").respond(200, json={"devices": [
        None, 42, {"name": "not/a/device"}, {"name": 7}, {**good, "traits": "x"}, good]})
    async with camsdk.hub(f"nest://{PROJECT}", **replay_options) as hub:
        listing = await hub.listing()
    assert [c.name for c in listing] == ["Living Room"]


async def test_a_camera_google_cannot_stream_is_a_device_error_with_the_rpc_code(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    record = fixture("devices_nest_app.json")["devices"][0]
    google.get(f"{SDM}/devices/{IQ}").respond(200, json=record)
    google.post(f"{SDM}/devices/{IQ}:executeCommand").respond(400, json={"error": {
        "code": 400, "message": "The camera is not available for streaming.",
        "status": "FAILED_PRECONDITION"}})
    async with camsdk.open(f"nest://{PROJECT}/{IQ}", **replay_options) as cam:
        driver = cam._driver  # type: ignore[attr-defined]
        with pytest.raises(camsdk.DeviceError) as info:
            await driver.open_stream("main")
    assert info.value.code == "FAILED_PRECONDITION"
    assert "not available for streaming" in str(info.value)


async def test_a_stream_url_on_a_host_the_driver_may_not_contact_is_refused_and_stopped(
    google: respx.MockRouter, replay_options: dict[str, Any],
) -> None:
    record = fixture("devices_nest_app.json")["devices"][0]
    google.get(f"{SDM}/devices/{IQ}").respond(200, json=record)
    commands: list[str] = []

    def execute(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        commands.append(body["command"].rsplit(".", 1)[-1])
        if body["command"].endswith("GenerateRtspStream"):
            return httpx.Response(200, json={"results": {
                "streamUrls": {"rtspUrl": "rtsps://attacker.example.com:443/x?auth=g.0.tok"},
                "streamExtensionToken": "ext-token-1", "streamToken": "g.0.tok",
                "expiresAt": "2099-01-01T00:00:00.000Z"}})
        return httpx.Response(200, json={})

    google.post(f"{SDM}/devices/{IQ}:executeCommand").mock(side_effect=execute)
    async with camsdk.open(f"nest://{PROJECT}/{IQ}", **replay_options) as cam:
        driver = cam._driver  # type: ignore[attr-defined]
        with pytest.raises(camsdk.RedirectRefusedError) as info:
            await driver.open_stream("main")
    assert "attacker.example.com" in str(info.value) and "g.0.tok" not in str(info.value)
    assert commands == ["GenerateRtspStream", "StopRtspStream"]
