"""PTZ of a Tapo camera: stepped moves in Tapo's directions, limits and presets."""

from __future__ import annotations

import pytest

import camsdk
from camsdk import Capability
from camsdk.testing import TapoDevice

from .conftest import device, options

pytestmark = pytest.mark.anyio


async def test_a_move_is_one_step_sized_by_the_speed_in_tapos_directions(
    camera: TapoDevice,
) -> None:
    async with camsdk.open(camera.url, **options(ptz_step=20.0)) as cam:
        assert cam.supports(Capability.PTZ | Capability.PTZ_PRESETS)
        await cam.ptz.move(pan=1.0, tilt=0.0, zoom=0.0)   # right: Tapo's x goes down
        await cam.ptz.move(pan=0.0, tilt=0.6, zoom=0.0)   # up: y goes up, a third as far
        status = await cam.ptz.status()
    assert camera.motor.moves == [(-20, 0), (0, 4)]
    assert status.pan > 0 and status.tilt > 0


async def test_firmware_that_only_takes_the_batched_motor_move_gets_it_and_keeps_it() -> None:
    async with device(motor_form="batched") as sim:
        async with camsdk.open(sim.url, **options(ptz_step=20.0)) as cam:
            await cam.ptz.move(pan=-1.0, tilt=0.0, zoom=0.0)
            await cam.ptz.move(pan=-1.0, tilt=0.0, zoom=0.0)
        assert sim.motor.moves == [(20, 0), (20, 0)]
        assert sim.functions.count("do:motor") == 1  # the direct form was tried once


async def test_stop_is_sent_and_tolerated_where_the_firmware_has_none() -> None:
    async with device(motor_stop=False) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            await cam.ptz.stop()
    async with device() as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            await cam.ptz.stop()
        assert sim.motor.stops == 1


async def test_moves_stop_at_the_motors_reach_without_an_error(camera: TapoDevice) -> None:
    async with camsdk.open(camera.url, **options()) as cam:
        for _ in range(3):
            await cam.ptz.relative(pan=-1.0, tilt=0.0, zoom=0.0)
        status = await cam.ptz.status()
    assert camera.motor.x == 170 and sum(dx for dx, _ in camera.motor.moves) == 170
    assert status.pan == -1.0


async def test_presets_are_stored_listed_and_gone_to(camera: TapoDevice) -> None:
    async with camsdk.open(camera.url, **options()) as cam:
        await cam.ptz.relative(pan=0.5, tilt=0.0, zoom=0.0)
        gate = await cam.ptz.set_preset("gate")
        await cam.ptz.relative(pan=-1.0, tilt=0.5, zoom=0.0)
        listed = await cam.ptz.presets()
        await cam.ptz.goto_preset(gate.token)
        status = await cam.ptz.status()
    assert [(p.token, p.name) for p in listed] == [(gate.token, "gate")]
    assert camera.motor.x == -85 and camera.motor.y == 0
    assert status.pan == pytest.approx(0.5) and status.tilt == pytest.approx(0.0)


async def test_older_firmware_that_answers_no_preset_id_is_read_back(
    legacy_camera: TapoDevice,
) -> None:
    async with camsdk.open(legacy_camera.url, **options()) as cam:
        preset = await cam.ptz.set_preset("porch")
    assert preset.name == "porch" and preset.token == "1"


async def test_an_unknown_preset_is_a_device_error_and_a_bad_token_a_configuration_error(
    camera: TapoDevice,
) -> None:
    async with camsdk.open(camera.url, **options()) as cam:
        with pytest.raises(camsdk.DeviceError):
            await cam.ptz.goto_preset("7")
        with pytest.raises(camsdk.ConfigurationError):
            await cam.ptz.goto_preset("../1")


async def test_a_camera_without_a_motor_has_no_ptz() -> None:
    async with device(ptz=False) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            assert not cam.supports(Capability.PTZ)
            with pytest.raises(camsdk.UnsupportedCapabilityError):
                cam.ptz  # noqa: B018
