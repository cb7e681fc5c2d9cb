"""Privacy mode (the lens mask) on a Tapo camera, through the normalised API.

`cam.set_privacy_mode` / `cam.privacy_mode` switch and read the lens mask
(owner only, audited); while it is on, streams end with `PrivacyModeError`
and snapshots raise it, whether camsdk or the Tapo app switched it, and
whatever the model does to its RTSP stream meanwhile.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import camsdk
from camsdk import AccessDeniedError, Capability, MediaPacket, PrivacyModeError
from camsdk.privacy import MemoryAuditSink
from camsdk.testing import TapoDevice

from .conftest import device, options

pytestmark = pytest.mark.anyio
WAIT = 20


async def drain(packets: Any) -> None:
    async for _ in packets:
        pass


async def first_packet(packets: Any) -> MediaPacket:
    async for item in packets:
        if isinstance(item, MediaPacket):
            return item
    raise AssertionError("the stream ended before its first packet")


async def test_switching_privacy_mode_sets_the_lens_mask_and_is_audited(
    camera: TapoDevice,
) -> None:
    audit = MemoryAuditSink()
    async with camsdk.open(camera.url, **options(audit=audit)) as cam:
        assert cam.supports(Capability.PRIVACY_MODE) and cam.privacy_mode is False
        await cam.set_privacy_mode(True, purpose="guests are here")
        assert camera.privacy_mode is True and cam.privacy_mode is True
        await cam.set_privacy_mode(False)
        assert camera.privacy_mode is False
    switches = [(r["on"], r["purpose"]) for r in audit.records if r["event"] == "privacy_mode"]
    assert switches == [(True, "guests are here"), (False, "")]
    driver_records = [r["on"] for r in audit.records if r["event"] == "tapo.lens_mask"]
    assert driver_records == [True, False]


async def test_only_the_owner_may_switch_privacy_mode(camera: TapoDevice) -> None:
    async with camsdk.open(camera.url, **options(principal="guest")) as cam:
        with pytest.raises(AccessDeniedError):
            await cam.set_privacy_mode(True)
    assert camera.privacy_mode is False
    assert "setLensMaskConfig" not in camera.functions


async def test_a_lens_mask_already_on_is_read_at_connect_and_refuses_snapshots() -> None:
    async with device(privacy_mode=True) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            assert cam.privacy_mode is True
            with pytest.raises(PrivacyModeError):
                await cam.snapshot()


async def test_privacy_mode_switched_by_camsdk_ends_a_running_stream_with_a_typed_reason(
    camera: TapoDevice,
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera.url, **options()) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                await first_packet(packets)
                await cam.set_privacy_mode(True)
                with pytest.raises(PrivacyModeError):
                    await drain(packets)
            with pytest.raises(PrivacyModeError):
                await cam.snapshot()
            await cam.set_privacy_mode(False)
            snap = await cam.snapshot()
    assert snap.source == "stream" and snap.jpeg[:2] == b"\xff\xd8"


@pytest.mark.parametrize("privacy_stream", ["stop", "placeholder"])
async def test_privacy_mode_switched_in_the_app_ends_the_stream_instead_of_a_retry_loop(
    privacy_stream: str,
) -> None:
    async with device(privacy_stream=privacy_stream) as sim:
        with anyio.fail_after(WAIT):
            async with camsdk.open(sim.url, **options(privacy_poll=0.2)) as cam:
                async with cam.stream() as stream, stream.packets() as packets:
                    await first_packet(packets)
                    sim.set_privacy(True)
                    with pytest.raises(PrivacyModeError):
                        await drain(packets)
                with pytest.raises(PrivacyModeError):
                    await cam.snapshot()


async def test_a_stream_does_not_open_while_the_lens_is_masked() -> None:
    async with device(privacy_mode=True) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            with pytest.raises(PrivacyModeError):
                async with cam.stream():
                    pass
        assert sim.rtsp is not None
        assert not [r for r in sim.rtsp.requests if r[0] == "DESCRIBE"]


async def test_a_stream_opened_while_masked_in_the_app_fails_typed_without_touching_rtsp(
    camera: TapoDevice,
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera.url, **options()) as cam:
            camera.set_privacy(True)  # behind camsdk's back
            with pytest.raises(PrivacyModeError):
                async with cam.stream() as stream, stream.packets() as packets:
                    await drain(packets)
    assert camera.rtsp is not None
    assert not [r for r in camera.rtsp.requests if r[0] == "DESCRIBE"]


async def test_a_second_camera_on_the_shared_session_reads_the_mask_afresh(
    camera: TapoDevice,
) -> None:
    async with camsdk.open(camera.url, **options()) as first:
        camera.set_privacy(True)  # in the app
        async with camsdk.open(camera.url, **options()) as second:
            assert (first.privacy_mode, second.privacy_mode) == (False, True)
            with pytest.raises(PrivacyModeError):
                await first.snapshot()


async def test_the_motor_refuses_to_move_in_privacy_mode(camera: TapoDevice) -> None:
    async with camsdk.open(camera.url, **options()) as cam:
        await cam.set_privacy_mode(True)
        with pytest.raises(PrivacyModeError):
            await cam.ptz.move(pan=0.5, tilt=0.0, zoom=0.0)
    assert camera.motor.moves == []


async def test_a_camera_without_a_lens_mask_has_no_privacy_mode() -> None:
    async with device(lens_mask=False) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            assert not cam.supports(Capability.PRIVACY_MODE)
            assert cam.privacy_mode is None
            with pytest.raises(camsdk.UnsupportedCapabilityError):
                await cam.set_privacy_mode(True)


async def test_the_onvif_snapshot_fails_while_the_lens_is_masked(camera: TapoDevice) -> None:
    from .conftest import FAST, STREAM_CREDS

    url = f"onvif://127.0.0.1:{camera.onvif_port}"
    async with camsdk.open(url, credentials=STREAM_CREDS, config=FAST) as cam:
        assert (await cam.snapshot(source="device")).source == "device"
        camera.set_privacy(True)
        with pytest.raises(camsdk.CamError):
            await cam.snapshot(source="device")
