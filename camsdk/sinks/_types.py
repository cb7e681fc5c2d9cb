"""What the sinks need from a camera: a small structural protocol.

The MQTT bridge and the webhook sink use only these members of
`camsdk.Camera`, so any object that has them (the real facade, a test double,
an application's own adapter) can be bridged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Protocol, runtime_checkable

from .._models import CameraEvent, CameraInfo, Capability, PTZPreset, Snapshot

__all__ = ["BridgeCamera", "EventStream", "PTZControl"]


class EventStream(Protocol):
    """``cam.events()``: an async context manager giving an async iterator of events."""

    async def __aenter__(self) -> AsyncIterator[CameraEvent]:
        """Open the subscription."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        """Close the subscription."""
        ...


class PTZControl(Protocol):
    """``cam.ptz``: continuous moves, stop and presets, in normalised units."""

    async def move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start moving at the given speeds (-1..1)."""
        ...

    async def stop(self) -> None:
        """Stop moving."""
        ...

    async def goto_preset(self, token: str) -> None:
        """Move to a stored preset."""
        ...

    async def presets(self) -> list[PTZPreset]:
        """List the stored presets."""
        ...


@runtime_checkable
class BridgeCamera(Protocol):
    """The part of `camsdk.Camera` the sinks use. Every call goes through the facade,
    so the camera's access policy and audit log see each one."""

    @property
    def id(self) -> str:
        """Stable camera identifier (no secrets)."""
        ...

    @property
    def info(self) -> CameraInfo:
        """Identity reported by the device after connecting."""
        ...

    @property
    def capabilities(self) -> Capability:
        """What the camera can do."""
        ...

    async def snapshot(self, *, max_age: float | None = None) -> Snapshot:
        """Take (or reuse, when younger than ``max_age``) a JPEG still."""
        ...

    def events(self) -> EventStream:
        """Subscribe to the camera's normalised events."""
        ...

    @property
    def ptz(self) -> PTZControl:
        """PTZ control; raises `UnsupportedCapabilityError` on use when absent."""
        ...
