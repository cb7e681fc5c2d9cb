"""Every argument of `cam.motion()` and of `MotionZone` is checked at the call."""

from __future__ import annotations

import math
from typing import Any

import pytest

import camsdk
from camsdk import CameraClosedError, ConfigurationError, MotionZone

from ._virtual import DRIVE, LAWN, STILL, open_camera

pytestmark = pytest.mark.anyio

BAD_ARGUMENTS: list[dict[str, Any]] = [
    {"sensitivity": -0.1},
    {"sensitivity": 1.5},
    {"sensitivity": "high"},
    {"sensitivity": True},
    {"sensitivity": math.nan},
    {"fps": 0},
    {"fps": -2.0},
    {"fps": 31.0},
    {"fps": math.inf},
    {"fps": "2"},
    {"fps": True},
    {"fps": 2.0, "keyframes_only": True},
    {"keyframes_only": "yes"},
    {"min_area": 0.0},
    {"min_area": 1.5},
    {"min_area": -0.01},
    {"hold": 0.0},
    {"hold": -1.0},
    {"hold": 3601.0},
    {"hold": math.nan},
    {"profile": ""},
    {"profile": "fisheye"},
    {"profile": 3},
    {"purpose": 3},
    {"zones": []},
    {"zones": "drive"},
    {"zones": DRIVE},
    {"zones": [DRIVE, DRIVE]},
    {"zones": [(0, 0), (1, 1)]},
    {"zones": [{"polygon": [(0, 0), (1, 0)], "name": "line"}]},
    {"zones": [MotionZone.rectangle(0, 0, 0.1, 0.1, f"z{i}") for i in range(33)]},
]


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS, ids=lambda a: repr(a)[:60])
async def test_a_bad_argument_is_a_configuration_error_at_the_call(
    arguments: dict[str, Any],
) -> None:
    async with open_camera("args-bad", STILL) as cam:
        with pytest.raises(ConfigurationError):
            cam.motion(**arguments)


async def test_zones_may_be_given_as_mappings() -> None:
    async with open_camera("args-mapping", STILL) as cam:
        detector = cam.motion(zones=[{"polygon": [(0, 0), (1, 0), (1, 1)], "name": "corner"}])
    assert [z.name for z in detector.settings.zones] == ["corner"]


async def test_the_defaults_are_two_frames_a_second_and_a_min_area_from_the_sensitivity() -> None:
    async with open_camera("args-defaults", STILL) as cam:
        settings = cam.motion(zones=[DRIVE, LAWN]).settings
    assert (settings.fps, settings.keyframes_only) == (2.0, False)
    assert settings.min_area == pytest.approx(0.01)
    assert settings.purpose == "software motion"


async def test_a_closed_camera_cannot_start_motion() -> None:
    async with open_camera("args-closed", STILL) as cam:
        pass
    with pytest.raises(CameraClosedError):
        cam.motion()


@pytest.mark.parametrize(
    "fields",
    [
        {"polygon": [(0, 0), (1.2, 0), (1, 1)], "name": "outside"},
        {"polygon": [(0, 0), (math.nan, 0), (1, 1)], "name": "nan"},
        {"polygon": [(0, 0), (0.5, 0.5), (1, 1)], "name": "collinear"},
        {"polygon": [(0, 0), (1, 1)], "name": "two points"},
        {"polygon": [(0, 0), (1, 0), (1, 1)], "name": ""},
        {"polygon": [(0, 0), (1, 0), (1, 1)], "name": "   "},
        {"polygon": [(0, 0), (1, 0), (1, 1)], "name": "a/b"},
        {"polygon": [(0, 0), (1, 0), (1, 1)], "name": "line\nbreak"},
        {"polygon": [(0, 0), (1, 0), (1, 1)], "name": "x" * 65},
    ],
    ids=lambda f: f["name"][:12] or "empty",
)
def test_an_invalid_zone_is_a_configuration_error(fields: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        MotionZone(**fields)


def test_a_zone_is_a_named_normalised_polygon() -> None:
    zone = MotionZone.rectangle(0.0, 0.0, 0.5, 1.0, " drive ")
    assert zone.name == "drive"
    assert zone.area == pytest.approx(0.5)
    assert zone.polygon == ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))


def test_motion_names_are_exported() -> None:
    assert {"MotionDetector", "MotionStats", "MotionZone"} <= set(camsdk.__all__)
