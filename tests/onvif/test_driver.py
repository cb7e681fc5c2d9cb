"""`OnvifDriver` against replayed firmware answers (respx), through the `camsdk.open` facade."""

from __future__ import annotations

import time

import httpx
import pytest

import camsdk
import camsdk._log
from camsdk import (
    AuthenticationError,
    CameraProtocolError,
    Capability,
    ConfigurationError,
    Credentials,
    UnsupportedCapabilityError,
)
from camsdk.drivers.onvif import OnvifDriver

from ._helpers import (
    PASSWORD,
    USER,
    SoapReplay,
    axis_device,
    dahua_device,
    fixture_text,
    hik_device,
    onvif_driver,
)

pytestmark = pytest.mark.anyio

URL = "onvif://cam.example.invalid:8080"
CREDS = Credentials(USER, PASSWORD)
# A JPEG header up to its frame size (1920x1080): enough for the driver's size check.
JPEG = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x11\x08\x04\x38\x07\x80\x03" + b"\x00" * 9


async def test_connect_reads_identity_scopes_and_media2_profiles(soap: SoapReplay) -> None:
    hik_device(soap)
    async with camsdk.open(URL, credentials=CREDS) as cam:
        info = cam.info
        caps = cam.capabilities
    assert soap.operations()[0] == "GetSystemDateAndTime"
    assert (info.vendor, info.model, info.hardware_id) == ("HIKVISION", "DS-2CD2143G2-I", "88")
    assert info.firmware == "V5.7.3 build 220112"
    assert (info.name, info.location) == ("Front Door", "city/Springfield")
    assert info.id == "onvif:HIKVISION-DS-2CD2143G2-I20220101AAWRREDACTED"
    main, sub = info.profiles
    assert (main.name, main.token, main.codec) == ("mainStream", "Profile_1", "hevc")
    assert (main.width, main.height, main.fps, main.bitrate) == (2560, 1440, 25.0, 4_096_000)
    assert main.audio_codec == "pcm_mulaw"
    assert (sub.codec, sub.width, sub.height) == ("h264", 640, 360)
    assert info.extra["media"] == "2"
    assert caps == (
        Capability.STREAM
        | Capability.SNAPSHOT
        | Capability.RECORD
        | Capability.AUDIO
        | Capability.EVENTS
    )


async def test_old_firmware_without_get_services_falls_back_to_get_capabilities(
    soap: SoapReplay,
) -> None:
    dahua_device(soap)
    async with camsdk.open(URL, credentials=CREDS) as cam:
        info = cam.info
        caps = cam.capabilities
    assert "GetCapabilities" in soap.operations()
    # XAddrs said 10.0.0.8; every request still went to the host the caller named.
    assert {call[2].url.host for call in soap.calls} == {"cam.example.invalid"}
    assert info.name == "SD22204T-GN"  # no name scope: the model
    assert info.hardware_id == "SD22204T-GN"  # no HardwareId: the hardware scope
    assert info.location == "country/china"
    main, sub = info.profiles
    assert (main.fps, main.bitrate, main.audio_codec) == (25.0, 2_048_000, "pcm_mulaw")
    assert (sub.width, sub.fps, sub.bitrate) == (704, None, None)  # no RateControl
    assert Capability.PTZ in caps and Capability.PTZ_PRESETS not in caps
    assert info.extra["media"] == "1"


async def test_a_media2_only_device_offers_its_h265_profiles(soap: SoapReplay) -> None:
    axis_device(soap)
    async with camsdk.open(URL, credentials=CREDS) as cam:
        info = cam.info
    assert [p.codec for p in info.profiles] == ["hevc", "h264"]
    assert info.profiles[0].name == "profile_1 h265"
    assert (info.profiles[0].width, info.profiles[0].fps) == (3840, 30.0)
    assert info.profiles[0].audio_codec == "aac"
    assert (info.name, info.location) == ("AXIS Q1656 Box", "Loading dock")


async def test_a_media2_that_fails_falls_back_to_media1(soap: SoapReplay) -> None:
    hik_device(soap)
    soap.on("/onvif/Media2", "GetProfiles", "faults/ActionNotSupported.xml", status=500)
    async with camsdk.open(URL, credentials=CREDS) as cam:
        info = cam.info
    assert info.extra["media"] == "1"
    assert [(p.token, p.codec) for p in info.profiles] == [("Profile_1", "h264")]


@pytest.mark.parametrize("wanted", ["subStream", "Profile_2", "SUBSTREAM"])
async def test_the_profile_option_picks_by_name_or_token(soap: SoapReplay, wanted: str) -> None:
    hik_device(soap)
    async with camsdk.open(f"{URL}?profile={wanted}", credentials=CREDS) as cam:
        assert cam.info.profiles[0].token == "Profile_2"


async def test_an_unknown_profile_is_a_configuration_error(soap: SoapReplay) -> None:
    hik_device(soap)
    cam = camsdk.open(URL, credentials=CREDS, profile="third")
    with pytest.raises(ConfigurationError, match="mainStream, subStream"):
        await cam.connect()
    await cam.aclose()


async def test_unknown_url_options_are_refused_before_any_io(soap: SoapReplay) -> None:
    with pytest.raises(ConfigurationError, match="unknown option"):
        camsdk.open(f"{URL}?chanel=2")
    assert not soap.router.calls


async def test_a_nat_stream_uri_is_rewritten_and_the_credentials_travel_beside_it(
    soap: SoapReplay,
) -> None:
    hik_device(soap)
    async with onvif_driver(URL, credentials=CREDS) as drv:
        source = await drv.stream_source("mainStream")
    assert source.url == (
        "rtsp://cam.example.invalid:554/Streaming/Channels/101"
        "?transportmode=unicast&profile=Profile_1"
    )
    assert source.transport == "tcp"
    assert source.credentials == CREDS
    assert PASSWORD not in repr(source)


async def test_device_embedded_stream_credentials_are_replaced_and_scrubbed(
    soap: SoapReplay,
) -> None:
    dahua_device(soap)
    async with onvif_driver(URL, credentials=CREDS) as drv:
        source = await drv.stream_source("MediaProfile_Channel1_MainStream")
    assert source.url.startswith("rtsp://cam.example.invalid:554/cam/")
    assert source.credentials == CREDS
    assert "REDACTED" not in repr(source) and PASSWORD not in repr(source)
    assert "REDACTED" in camsdk._log._snapshot  # the device's own password is scrubbed too


async def test_without_caller_credentials_the_devices_own_are_used(soap: SoapReplay) -> None:
    dahua_device(soap)
    async with onvif_driver(URL) as drv:
        source = await drv.stream_source("MediaProfile_Channel1_MainStream")
    assert source.url.startswith("rtsp://cam.example.invalid:554/")
    assert source.credentials == Credentials("admin", "REDACTED")
    assert b"UsernameToken" not in soap.calls[0][2].content


async def test_snapshot_comes_from_the_device_uri_with_digest(soap: SoapReplay) -> None:
    axis_device(soap)
    seen: list[str] = []

    def camera(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", "")[:6])
        if not request.headers.get("authorization", "").startswith("Digest "):
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'Digest realm="AXIS", nonce="n1", qop="auth"'}
            )
        return httpx.Response(200, content=JPEG, headers={"Content-Type": "image/jpeg"})

    soap.router.get("http://cam.example.invalid:8080/onvif-cgi/jpg/image.cgi").mock(
        side_effect=camera
    )
    async with camsdk.open(URL, credentials=CREDS) as cam:
        snap = await cam.snapshot(source="device")
        again = await cam.snapshot(source="device")
    assert (snap.source, snap.width, snap.height) == ("device", 1920, 1080)
    assert snap.jpeg == JPEG and again.jpeg == JPEG
    assert seen == ["", "Digest", "Digest"]  # the challenge is answered, then reused
    assert soap.operations().count("GetSnapshotUri") == 1


async def test_a_snapshot_that_is_no_jpeg_is_a_protocol_error(soap: SoapReplay) -> None:
    axis_device(soap)
    soap.router.get(url__startswith="http://cam.example.invalid:8080/onvif-cgi/").mock(
        return_value=httpx.Response(200, text="<html>login</html>")
    )
    async with camsdk.open(URL, credentials=CREDS) as cam:
        with pytest.raises(CameraProtocolError, match="not a JPEG"):
            await cam.snapshot(source="device")


async def test_a_snapshot_uri_with_a_local_scheme_is_never_fetched(soap: SoapReplay) -> None:
    axis_device(soap)
    soap.on(
        "/onvif/services",
        "GetSnapshotUri",
        fixture_text("axis/GetSnapshotUri.xml").replace(
            "http://cam.example.invalid/onvif-cgi/jpg/image.cgi?resolution=3840x2160&amp;"
            "compression=30",
            "file:///etc/shadow",
        ),
    )
    async with camsdk.open(URL, credentials=CREDS) as cam:
        with pytest.raises(CameraProtocolError, match="file: URI"):
            await cam.snapshot(source="device")
    assert all(call.request.method == "POST" for call in soap.router.calls)


async def test_ptz_maps_normalised_coordinates_onto_degree_spaces(soap: SoapReplay) -> None:
    dahua_device(soap)
    async with camsdk.open(URL, credentials=CREDS) as cam:
        status = await cam.ptz.status()
        await cam.ptz.move(pan=0.5, tilt=-1.0, zoom=0.0)
        with pytest.raises(UnsupportedCapabilityError):
            await cam.ptz.presets()
        with pytest.raises(UnsupportedCapabilityError):
            await cam.ptz.home()
        with pytest.raises(UnsupportedCapabilityError, match="relative"):
            await cam.ptz.relative(pan=0.1)
    assert (status.pan, status.tilt, status.zoom, status.moving) == (0.5, 0.0, 0.5, True)
    move = next(request for _, op, request in soap.calls if op == "ContinuousMove")
    assert b'x="4" y="-8"' in move.content
    assert b"<tptz:ProfileToken>MediaProfile000</tptz:ProfileToken>" in move.content
    assert "GetNode" in soap.operations()  # GetNodes is unsupported on this firmware


async def test_a_move_timeout_lets_the_device_stop_by_itself(soap: SoapReplay) -> None:
    dahua_device(soap)
    async with camsdk.open(URL, credentials=CREDS, move_timeout=2.5) as cam:
        await cam.ptz.move(zoom=-0.5)
    move = next(request for _, op, request in soap.calls if op == "ContinuousMove")
    assert b"<tptz:Timeout>PT2.5S</tptz:Timeout>" in move.content
    assert b'<tt:Zoom x="-0.5"' in move.content and b"PanTilt" in move.content


async def test_absent_services_mean_absent_capabilities(soap: SoapReplay) -> None:
    hik_device(soap)
    soap.on(
        "/onvif/device_service",
        "GetServices",
        fixture_text("hik/GetServices.xml").replace(
            'WSPullPointSupport="true"', 'WSPullPointSupport="false"'
        ),
    )
    async with camsdk.open(URL, credentials=CREDS) as cam:
        assert Capability.EVENTS not in cam.capabilities
        with pytest.raises(UnsupportedCapabilityError):
            cam.ptz  # noqa: B018
    async with onvif_driver(URL, credentials=CREDS) as drv:
        with pytest.raises(UnsupportedCapabilityError):
            drv.events()
        with pytest.raises(UnsupportedCapabilityError):
            drv.ptz()


async def test_rejected_credentials_fail_connect_with_authentication_error(
    soap: SoapReplay,
) -> None:
    hik_device(soap)
    soap.on("/onvif/device_service", "GetDeviceInformation", "faults/NotAuthorized.xml", status=400)
    cam = camsdk.open(URL, credentials=CREDS)
    with pytest.raises(AuthenticationError) as info:
        await cam.connect()
    assert info.value.scheme == "onvif" and PASSWORD not in str(info.value)
    assert cam.state is camsdk.CameraState.CLOSED


async def test_a_hostile_answer_during_connect_fails_fast_and_fetches_nothing(
    soap: SoapReplay, loopback_only: list[object]
) -> None:
    hik_device(soap)
    soap.on("/onvif/device_service", "GetDeviceInformation", "hostile/external_entity.xml")
    attacker = soap.router.route(host="attacker.invalid")
    cam = camsdk.open(URL, credentials=CREDS)
    started = time.perf_counter()
    with pytest.raises(CameraProtocolError, match="refused XML construct"):
        await cam.connect()
    assert time.perf_counter() - started < 1.0
    assert not attacker.called and not loopback_only
    assert {call.request.url.host for call in soap.router.calls} == {"cam.example.invalid"}


async def test_driver_repr_and_errors_never_show_the_url_password(soap: SoapReplay) -> None:
    hik_device(soap)
    cam = camsdk.open(f"onvif://{USER}:{PASSWORD}@cam.example.invalid:8080")
    async with cam:
        assert cam.info.vendor == "HIKVISION"  # URL credentials are used
        assert PASSWORD not in repr(cam) and PASSWORD not in cam.url
    token = soap.calls[-1][2].content
    assert b"<wsse:Username>admin</wsse:Username>" in token
    assert cam.driver_name == OnvifDriver.display_name
