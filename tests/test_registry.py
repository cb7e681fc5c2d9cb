"""Driver registry: lazy built-ins, third-party drivers, clear errors."""

from __future__ import annotations

import pytest

import camsdk
from tests.thirdparty import StillCamDriver, register

pytestmark = pytest.mark.anyio


def test_available_drivers_lists_the_virtual_camera_with_its_capabilities() -> None:
    drivers = camsdk.available_drivers()
    virtual = drivers["virtual"]
    assert virtual.available
    assert camsdk.Capability.STREAM in virtual.capabilities
    assert camsdk.Capability.HUB in virtual.capabilities


async def test_a_registered_third_party_driver_opens_like_a_builtin() -> None:
    register()
    assert camsdk.available_drivers()["stillcam"].display_name == "Still camera (test)"
    async with camsdk.open("stillcam://porch") as cam:
        assert cam.driver_name == StillCamDriver.display_name
        assert cam.info.id == "stillcam:porch"
        with pytest.raises(camsdk.UnsupportedCapabilityError):
            cam.stream()


def test_a_driver_that_cannot_be_imported_raises_with_its_install_hint() -> None:
    from camsdk import _registry

    table = _registry._load_tables()["driver"]
    table["broken"] = ("no_such_pkg.mod:Driver", "pip install x", False)
    try:
        with pytest.raises(camsdk.DriverUnavailableError) as info:
            camsdk.open("broken://h/x")
        assert info.value.hint == "pip install x"
        assert isinstance(info.value, ImportError)
        assert not camsdk.available_drivers()["broken"].available
    finally:
        del _registry._load_tables()["driver"]["broken"]


def test_entry_points_are_read_from_the_installed_metadata() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="camsdk.drivers")}
    assert "virtual" in names
