"""Hubs: an NVR or account lists cameras that share its session."""

from __future__ import annotations

import anyio
import pytest

import camsdk

pytestmark = pytest.mark.anyio


async def test_virtual_hub_lists_its_cameras_as_unconnected_cameras() -> None:
    async with camsdk.hub("virtual://site?cameras=3&size=160x120&fps=30&gop=15") as hub:
        cams = await hub.cameras()
        assert [c.state for c in cams] == [camsdk.CameraState.NEW] * 3
        async with cams[1] as cam:
            assert cam.info.id == "virtual:site-2"
            with anyio.fail_after(10):
                snap = await cam.snapshot()
            assert (snap.width, snap.height) == (160, 120)


async def test_closing_the_hub_closes_the_cameras_it_handed_out() -> None:
    hub = camsdk.hub("virtual://plant?cameras=2&size=160x120&fps=30&gop=15")
    await hub.connect()
    cams = await hub.cameras()
    await cams[0].connect()
    await hub.aclose()
    assert all(c.state is camsdk.CameraState.CLOSED for c in cams)


async def test_a_closed_hub_cannot_be_reopened() -> None:
    hub = camsdk.hub("virtual://gone?cameras=1")
    async with hub:
        pass
    with pytest.raises(camsdk.CameraClosedError):
        await hub.connect()


def test_hub_options_are_validated_before_any_io() -> None:
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.hub("virtual://site?cameras=many")
    with pytest.raises(camsdk.UnknownSchemeError):
        camsdk.hub("nosuch://x")
