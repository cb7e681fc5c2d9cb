"""PTZ through ISAPI and SADP discovery, against the simulator (loopback only)."""

from __future__ import annotations

import contextlib

import anyio
import pytest

import camsdk
from camsdk.drivers.hikvision import _discovery
from camsdk.drivers.hikvision._discovery import parse_probe_match, probe
from camsdk.testing import HikvisionDevice

from ._helpers import CREDS, FAST

pytestmark = pytest.mark.anyio


async def test_continuous_moves_are_ptzdata_speeds_and_stop_is_zero(
    camera: HikvisionDevice,
) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        await cam.ptz.move(pan=0.5, tilt=-0.25, zoom=1.0)
        assert camera.heads[1].speeds == (50, -25, 100)
        await cam.ptz.stop()
        assert camera.heads[1].speeds == (0, 0, 0)


async def test_position_is_normalised_from_absolute_high(camera: HikvisionDevice) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        await cam.ptz.absolute(pan=0.5, tilt=0.0, zoom=0.5)
        head = camera.heads[1]
        assert (round(head.azimuth), round(head.elevation), round(head.zoom)) == (2700, 0, 165)
        status = await cam.ptz.status()
    assert status.pan == pytest.approx(0.5, abs=0.01)
    assert status.zoom == pytest.approx(0.5, abs=0.01)


async def test_presets_are_listed_set_in_a_free_slot_and_recalled(
    camera: HikvisionDevice,
) -> None:
    camera.heads[1].presets = {1: "Gate", 2: "Yard"}
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        assert cam.ptz.supports_presets
        assert [(p.token, p.name) for p in await cam.ptz.presets()] == [("1", "Gate"),
                                                                        ("2", "Yard")]
        stored = await cam.ptz.set_preset("Porch")
        assert (stored.token, camera.heads[1].presets[3]) == ("3", "Porch")
        await cam.ptz.goto_preset("3")
        with pytest.raises(camsdk.DeviceError):
            await cam.ptz.goto_preset("9")  # the device says presetNotSet


def test_a_probe_match_becomes_a_discovered_camera() -> None:
    data = (b'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><Uuid>ABC</Uuid>'
            b"<Types>inquiry</Types><DeviceType>IPC</DeviceType>"
            b"<DeviceDescription>DS-2CD2143G2-I</DeviceDescription>"
            b"<DeviceSN>DS-2CD2143G2-I20200101AAWRE00000007</DeviceSN><HttpPort>8080</HttpPort>"
            b"<MAC>44-19-b6-00-00-07</MAC><IPv4Address>10.9.9.9</IPv4Address>"
            b"<Activated>false</Activated></ProbeMatch>")
    found = parse_probe_match(data, "192.0.2.7", "abc")
    assert found is not None
    camera = found[1]
    assert camera.url == "hikvision://192.0.2.7:8080/1"  # where it answered from
    assert (camera.vendor, camera.model, camera.driver) == ("Hikvision", "DS-2CD2143G2-I",
                                                            "hikvision")
    assert "activated:false" in camera.scopes
    assert parse_probe_match(data, "192.0.2.7", "another-probe") is None
    assert parse_probe_match(b"<lol", "192.0.2.7") is None


async def test_probe_finds_the_simulated_device_on_loopback(camera: HikvisionDevice) -> None:
    found = []
    with anyio.fail_after(5):
        async with contextlib.aclosing(probe(2.0, target=camera.sadp_target)) as results:
            async for item in results:
                found.append(item)
                break
    assert [c.url for c in found] == [f"{camera.url}/1"]
    assert found[0].model == camera.model


async def test_camsdk_discover_uses_sadp(camera: HikvisionDevice,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = camera.sadp_target
    monkeypatch.setattr(_discovery, "MULTICAST_ADDRESS", host)
    monkeypatch.setattr(_discovery, "MULTICAST_PORT", port)
    with anyio.fail_after(5):
        found = [c async for c in camsdk.discover(timeout=0.5, schemes={"hikvision"})]
    assert [c.url for c in found] == [f"{camera.url}/1"]
    assert camera.sadp_probes >= 1
