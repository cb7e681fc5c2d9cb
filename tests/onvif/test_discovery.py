"""WS-Discovery: parsing ProbeMatches, and probing a loopback responder (never the network)."""

from __future__ import annotations

import contextlib

import anyio
import pytest

import camsdk
from camsdk.drivers.onvif import _discovery
from camsdk.drivers.onvif._discovery import parse_probe_matches, probe
from camsdk.testing._onvif_device import OnvifDevice

from ._helpers import fixture_text

pytestmark = pytest.mark.anyio

ID = "urn:uuid:00000000-0000-0000-0000-000000000001"


def test_a_probe_match_becomes_a_discovered_camera() -> None:
    data = fixture_text("discovery/ProbeMatches.xml", RELATES_TO=ID, SENDER="192.0.2.10")
    [(endpoint, found)] = parse_probe_matches(data.encode(), "192.0.2.10", ID)
    assert endpoint == "urn:uuid:a1b2c3d4-0000-0000-0000-REDACTED00001"
    assert found.url == "onvif://192.0.2.10:8080"  # the XAddr the answer came from
    assert (found.name, found.vendor, found.model) == ("Front Door", "HIKVISION", "DS-2CD2143G2-I")
    assert found.types == ("dn:NetworkVideoTransmitter", "tds:Device")
    assert found.driver == "onvif" and found.address == "192.0.2.10"


def test_an_xaddr_naming_another_host_gets_the_senders_address() -> None:
    data = fixture_text("discovery/ProbeMatches.xml", RELATES_TO=ID, SENDER="10.9.9.9")
    [(_, found)] = parse_probe_matches(data.encode(), "192.0.2.10", ID)
    assert found.url == "onvif://192.0.2.10"


def test_answers_to_other_probes_and_garbage_are_ignored() -> None:
    data = fixture_text(
        "discovery/ProbeMatches.xml", RELATES_TO="urn:uuid:other", SENDER="192.0.2.10"
    ).encode()
    assert parse_probe_matches(data, "192.0.2.10", ID) == []
    hostile = fixture_text("hostile/billion_laughs.xml").encode()
    assert parse_probe_matches(hostile, "192.0.2.10", ID) == []
    assert parse_probe_matches(b"\x00\xff not xml", "192.0.2.10", ID) == []


async def test_probe_finds_the_simulated_device_on_loopback(onvif_device: OnvifDevice) -> None:
    found = []
    with anyio.fail_after(5):
        async with contextlib.aclosing(probe(2.0, target=onvif_device.discovery_target)) as results:
            async for camera in results:
                found.append(camera)
                break
    assert [c.url for c in found] == [onvif_device.url]
    assert found[0].name == "Simulated Camera"
    assert "Probe" in onvif_device.requests


async def test_camsdk_discover_uses_the_injectable_target(
    onvif_device: OnvifDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = onvif_device.discovery_target
    monkeypatch.setattr(_discovery, "MULTICAST_ADDRESS", host)
    monkeypatch.setattr(_discovery, "MULTICAST_PORT", port)
    with anyio.fail_after(5):
        found = [c async for c in camsdk.discover(timeout=0.5, schemes={"onvif"})]
    assert [c.url for c in found] == [onvif_device.url]


async def test_the_guard_stops_a_probe_to_the_real_multicast_group(
    loopback_only: list[object],
) -> None:
    with anyio.fail_after(5):
        found = [c async for c in probe(0.3)]
    assert found == []
    assert set(loopback_only) == {("239.255.255.250", 3702)}
    loopback_only.clear()  # the guard did its job; nothing left this machine


async def test_the_guard_refuses_tcp_to_other_hosts(loopback_only: list[object]) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=2.0) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://192.0.2.1:9/")
    assert [address[0] for address in loopback_only] == ["192.0.2.1"]  # type: ignore[index]
    loopback_only.clear()
