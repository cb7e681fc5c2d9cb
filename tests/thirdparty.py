"""A tiny third-party driver, registered the way an external package would be.

It has a native snapshot and nothing else, which exercises the registry and
the facade's device-snapshot path without any built-in driver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from camsdk import CameraDriver, CameraInfo, Capability, Snapshot, register_driver

# The smallest valid JPEG we can make without an encoder: made once with PyAV.
_JPEG: bytes | None = None


def _jpeg() -> bytes:
    global _JPEG
    if _JPEG is None:
        import av

        from camsdk._pipeline._codec import encode_jpeg

        _JPEG = encode_jpeg(av.VideoFrame(64, 48, "yuv420p"))
    return _JPEG


class StillCamDriver(CameraDriver):
    """A camera that only takes stills."""

    schemes: ClassVar[tuple[str, ...]] = ("stillcam",)
    display_name: ClassVar[str] = "Still camera (test)"
    declared_capabilities: ClassVar[Capability] = Capability.SNAPSHOT

    async def connect(self) -> CameraInfo:
        return CameraInfo(id=f"stillcam:{self.url.host}", vendor="Test")

    async def snapshot(self, profile: str) -> Snapshot:
        return Snapshot(
            jpeg=_jpeg(), width=64, height=48, captured_at=datetime.now(UTC),
            source="device",
        )


def register() -> None:
    """Register the driver under ``stillcam://``."""
    register_driver("stillcam", StillCamDriver)
