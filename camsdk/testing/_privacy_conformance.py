"""The privacy-mode section of the conformance suite (`camsdk.testing.conformance`).

Any driver that reports `Capability.PRIVACY_MODE` can run it: mix
`PrivacyModeConformance` into the test class that runs `CameraConformance`
(or subclass it alone) with the ``camera_url`` fixture (and
``camera_options``). Written against the public facade only. Like the rest
of the suite it is opt-in through fixtures: ``switch_on_device`` (an async
callable switching privacy mode *outside* camsdk, as the vendor's app would)
unlocks the last test, which is skipped without it. Every test skips when the
camera does not report `Capability.PRIVACY_MODE`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import Capability, MediaPacket, PrivacyModeError

__all__ = ["PrivacyModeConformance", "Switch"]

_WAIT = 20.0

#: Switches privacy mode on the device behind camsdk's back (``True``: on).
Switch = Callable[[bool], Awaitable[None]]


class PrivacyModeConformance:
    """Privacy-mode promises of the facade, on any driver that offers it."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        """Extra keyword arguments for `camsdk.open`."""
        return {}

    @pytest.fixture
    def switch_on_device(self) -> Switch | None:
        """Switch privacy mode on the device behind camsdk's back (override to enable)."""
        return None

    @staticmethod
    def _skip_without(cam: camsdk.Camera) -> None:
        if not cam.supports(Capability.PRIVACY_MODE):
            pytest.skip("the camera has no privacy mode")

    async def test_privacy_mode_is_read_and_switched_both_ways(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        with anyio.fail_after(_WAIT):
            async with camsdk.open(camera_url, **camera_options) as cam:
                self._skip_without(cam)
                assert cam.privacy_mode is False
                await cam.set_privacy_mode(True)
                assert cam.privacy_mode is True
                await cam.set_privacy_mode(False)
                assert cam.privacy_mode is False

    async def test_a_running_stream_ends_with_privacy_mode_error(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        with anyio.fail_after(_WAIT):
            async with camsdk.open(camera_url, **camera_options) as cam:
                self._skip_without(cam)
                if not cam.supports(Capability.STREAM):
                    pytest.skip("camera has no stream")
                async with cam.stream() as stream, stream.packets() as packets:
                    async for item in packets:
                        if isinstance(item, MediaPacket):
                            break
                    await cam.set_privacy_mode(True)
                    with pytest.raises(PrivacyModeError):
                        async for _ in packets:
                            pass
                await cam.set_privacy_mode(False)

    async def test_snapshots_raise_while_on_and_work_again_after(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        with anyio.fail_after(_WAIT):
            async with camsdk.open(camera_url, **camera_options) as cam:
                self._skip_without(cam)
                if not cam.supports(Capability.SNAPSHOT):
                    pytest.skip("camera has no snapshot")
                await cam.set_privacy_mode(True)
                with pytest.raises(PrivacyModeError):
                    await cam.snapshot()
                await cam.set_privacy_mode(False)
                snap = await cam.snapshot()
        assert snap.jpeg[:2] == b"\xff\xd8"

    async def test_switching_is_for_the_owner_and_audited(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        from camsdk.privacy import MemoryAuditSink

        audit = MemoryAuditSink()
        options = {**camera_options, "principal": "guest", "audit": audit}
        with anyio.fail_after(_WAIT):
            async with camsdk.open(camera_url, **options) as cam:
                self._skip_without(cam)
                with pytest.raises(camsdk.AccessDeniedError):
                    await cam.set_privacy_mode(True)
                assert cam.privacy_mode is False
        denied = [r for r in audit.records if r.get("action") == "config"]
        assert denied and not any(r["allowed"] for r in denied)

    async def test_privacy_mode_is_switched_with_a_bool(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        async with camsdk.open(camera_url, **camera_options) as cam:
            self._skip_without(cam)
            with pytest.raises(camsdk.ConfigurationError):
                await cam.set_privacy_mode("on")  # type: ignore[arg-type]

    async def test_privacy_mode_switched_on_the_device_is_a_typed_refusal_not_a_fault(
        self, camera_url: str, camera_options: dict[str, Any], switch_on_device: Switch | None
    ) -> None:
        if switch_on_device is None:
            pytest.skip("provide the switch_on_device fixture")
        with anyio.fail_after(_WAIT):
            async with camsdk.open(camera_url, **camera_options) as cam:
                self._skip_without(cam)
                await switch_on_device(True)
                try:
                    with pytest.raises(PrivacyModeError):
                        if cam.supports(Capability.SNAPSHOT):
                            await cam.snapshot()
                        else:
                            async with cam.stream():
                                pass
                finally:
                    await switch_on_device(False)
