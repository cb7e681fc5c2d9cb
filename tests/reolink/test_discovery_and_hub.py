"""Discovery on loopback, the hub's care for the account, and the answer readers.

Discovery probes are sent to the simulator's loopback responder (``target=``)
and answers read on a loopback socket (``listen=``): nothing is broadcast.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import camsdk
from camsdk import AuthenticationError, Credentials
from camsdk.drivers.reolink import _discovery
from camsdk.drivers.reolink._model import (
    read_ai_state,
    read_channel_status,
    read_device_info,
    read_enc,
    read_net_ports,
)
from camsdk.drivers.reolink._ptz import direction
from camsdk.testing import ReolinkDevice

from .conftest import PASSWORD, USER, options

pytestmark = pytest.mark.anyio


async def test_discovery_finds_the_device_by_the_address_its_answer_came_from(
    camera: ReolinkDevice,
) -> None:
    with anyio.fail_after(5):
        found = [c async for c in _discovery.probe(
            0.5, target=camera.discovery_target, listen=("127.0.0.1", 0))]
    assert len(found) == 1
    (cam,) = found
    assert (cam.url, cam.vendor, cam.driver, cam.address) == (
        "reolink://127.0.0.1", "Reolink", "reolink", "127.0.0.1")
    assert cam.name == "Reolink Sim" and "mac:EC:71:DB:00:00:01" in cam.scopes
    assert camera.probes >= 1


@pytest.mark.parametrize("data", [b"", b"\xaa\xaa\x00\x00", bytes(388), bytes(389)])
def test_datagrams_that_are_not_answers_are_ignored(data: bytes) -> None:
    assert _discovery.parse_reply(data, "127.0.0.1") is None


async def test_a_wrong_password_on_the_hub_is_refused_once(nvr: ReolinkDevice) -> None:
    hub = camsdk.hub(nvr.url, **options(credentials=Credentials(USER, "wrong")))
    with anyio.fail_after(10), pytest.raises(AuthenticationError):
        await hub.connect()
    assert nvr.account.failed_logins == 1 and nvr.account.sessions == 0


async def test_a_locked_account_is_reported_as_locked() -> None:
    async with ReolinkDevice(username=USER, password=PASSWORD, lockout_after=1) as device:
        with anyio.fail_after(10):
            with pytest.raises(AuthenticationError):
                await camsdk.open(device.url, **options(
                    credentials=Credentials(USER, "wrong"))).connect()
            with pytest.raises(AuthenticationError, match="locked"):
                await camsdk.open(device.url, **options()).connect()


async def test_a_wrong_password_never_rides_on_a_good_session(camera: ReolinkDevice) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(camera.url, **options()):
            with pytest.raises(AuthenticationError):
                await camsdk.open(camera.url, **options(
                    credentials=Credentials(USER, "wrong"))).connect()
    assert camera.account.failed_logins == 1


async def test_the_session_cap_is_respected_by_sharing_one_login(camera: ReolinkDevice) -> None:
    with anyio.fail_after(15):
        cams = [camsdk.open(camera.url, **options()) for _ in range(12)]
        try:
            for cam in cams:
                await cam.connect()
            assert camera.account.sessions == 1  # twelve cameras, one of ten slots
        finally:
            for cam in cams:
                await cam.aclose()
    assert camera.account.logins == 1 and camera.account.logouts == 1


async def test_a_full_device_says_max_session() -> None:
    async with ReolinkDevice(username=USER, password=PASSWORD, max_sessions=0) as device:
        with anyio.fail_after(10), pytest.raises(camsdk.DeviceError, match="max session"):
            await camsdk.open(device.url, **options()).connect()


async def test_a_rebooted_device_is_logged_into_again(camera: ReolinkDevice) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(camera.url, **options()) as cam:
            camera.forget_tokens()
            snap = await cam.snapshot()
    assert snap.source == "device" and camera.account.logins == 2


async def test_hub_startup_lists_32_channels_in_two_requests_after_login() -> None:
    async with ReolinkDevice(username=USER, password=PASSWORD, channels=32) as big:
        with anyio.fail_after(15):
            async with camsdk.hub(big.url, **options()) as hub:
                cams = await hub.cameras()
        requests = [r for r in big.http.requests if r.path.endswith("api.cgi")]
    assert len(cams) == 32
    # Login, the device batch, GetEnc/GetRtspUrl of all 32 channels in one POST, Logout.
    assert [r.query.get("cmd") for r in requests] == ["Login", "GetDevInfo", "GetEnc", "Logout"]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=30))
@settings(max_examples=200, deadline=None)
def test_the_readers_never_raise_on_any_json(value: Any) -> None:
    for wrapped in (value, {"DevInfo": value}, {"NetPort": value}, {"status": value},
                    {"Enc": value}, {"Enc": {"mainStream": value}}):
        read_device_info(wrapped)
        read_net_ports(wrapped)
        read_channel_status(wrapped)
        read_enc(wrapped)
        read_ai_state(wrapped)


def test_ai_state_reads_both_firmware_shapes_and_drops_unsupported_types() -> None:
    assert read_ai_state({"channel": 0, "people": 1, "vehicle": 0}) == {
        "people": True, "vehicle": False}
    assert read_ai_state({"people": {"alarm_state": 1, "support": 1},
                          "face": {"alarm_state": 1, "support": 0}}) == {"people": True}


@pytest.mark.parametrize(("velocity", "expected"), [
    ((0.5, 0.0, 0.0), ("Right", 32)), ((-1.0, 1.0, 0.0), ("LeftUp", 64)),
    ((0.0, -0.01, 0.0), ("Stop", 0)), ((0.0, 0.0, -0.5), ("ZoomDec", 32)),
    ((0.2, -0.9, 1.0), ("RightDown", 58)),
])
def test_ptz_velocities_pick_a_direction_and_a_speed(
    velocity: tuple[float, float, float], expected: tuple[str, int]
) -> None:
    assert direction(*velocity) == expected


async def test_tokens_and_passwords_stay_out_of_debug_logs(
    camera: ReolinkDevice, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    tokens: set[str] = set()
    with anyio.fail_after(10):
        async with camsdk.open(camera.url, **options()) as cam:
            tokens.update(camera.account.tokens)
            camera.snapshot_errors = 1
            await cam.snapshot()
            camera.forget_tokens()
            await cam.snapshot()
            tokens.update(camera.account.tokens)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert len(tokens) == 2 and "Snap" in text
    assert not [t for t in tokens if t in text] and PASSWORD not in text
