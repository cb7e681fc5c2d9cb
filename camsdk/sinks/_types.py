"""What the sinks need from a camera: small structural protocols, and per-camera options.

The MQTT bridge and the webhook sink use only the members of `BridgeCamera`
(a subset of `camsdk.Camera`), so any object that has them (the real facade,
a test double, an application's own adapter) can be bridged. A camera that
also has ``motion(...)`` (`SoftwareMotionCamera`) gets a "software motion"
switch in Home Assistant; one with ``set_privacy_mode(...)``
(`PrivacyModeCamera`) that reports ``Capability.PRIVACY_MODE`` gets a
"privacy mode" switch.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeGuard, runtime_checkable

from .._errors import ConfigurationError
from .._models import CameraEvent, CameraInfo, Capability, PTZPreset, Snapshot, StreamStats
from ._ha_discovery import topic_slug

__all__ = [
    "BridgeCamera",
    "BridgeCameraOptions",
    "EventStream",
    "MotionRun",
    "PTZControl",
    "PrivacyModeCamera",
    "SoftwareMotionCamera",
    "StreamHandle",
    "has_privacy_mode",
    "has_software_motion",
]


class _HeldOpen(Protocol):
    """Something ``async with`` holds open: entered to start, exited to stop."""

    async def __aenter__(self) -> Any:
        """Open, attach or start."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        """Close, detach or stop."""
        ...


class EventStream(_HeldOpen, Protocol):
    """``cam.events()``: an async context manager giving an async iterator of events."""

    async def __aenter__(self) -> AsyncIterator[CameraEvent]:
        """Open the subscription."""
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


class StreamHandle(_HeldOpen, Protocol):
    """``cam.stream(...)``: held open (``async with``) while its counters are read.

    Exiting detaches; the upstream closes when its last consumer leaves.
    """

    def stats(self) -> StreamStats:
        """Counters of the shared stream session (state, fps, ...)."""
        ...


class MotionRun(_HeldOpen, Protocol):
    """``cam.motion(...)``: the software motion detector runs while this is entered."""


@runtime_checkable
class BridgeCamera(Protocol):
    """The part of `camsdk.Camera` the sinks use. Every call goes through the facade,
    so the camera's access policy and audit log see each one."""

    @property
    def id(self) -> str:
        """Stable camera identifier (no secrets)."""
        ...

    @property
    def url(self) -> str:
        """The camera URL with credentials redacted (the bridge keeps only its host)."""
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

    def stream(
        self, profile: str | None = None, *, audio: bool = True, purpose: str = ""
    ) -> StreamHandle:
        """A handle on ``profile``'s shared stream (the bridge reads only its stats)."""
        ...


class SoftwareMotionCamera(BridgeCamera, Protocol):
    """A `BridgeCamera` that can run camsdk's software motion detector.

    Kept apart from `BridgeCamera` so that cameras (and adapters) without a
    detector can still be bridged; they simply get no switch for it.
    """

    def motion(self, *, sensitivity: float = 0.5, fps: float = 2.0, purpose: str = "") -> MotionRun:
        """Run the detector while the returned context is entered; its MOTION events
        arrive through `events` like the device's own."""
        ...


class PrivacyModeCamera(BridgeCamera, Protocol):
    """A `BridgeCamera` whose device privacy mode can be switched (`camsdk.Camera` has it).

    Switching is a device configuration change: the camera's policy decides
    it as ``config`` (the owner's alone unless a grant says otherwise) and its
    audit log records it. Only cameras whose ``capabilities`` include
    ``PRIVACY_MODE`` get the switch in Home Assistant.
    """

    @property
    def privacy_mode(self) -> bool | None:
        """Whether the device is in privacy mode, as last read or set (None: unknown)."""
        ...

    async def set_privacy_mode(self, on: bool, *, purpose: str = "") -> None:
        """Switch the device's privacy mode (an audited ``config`` action)."""
        ...


def has_privacy_mode(cam: BridgeCamera) -> TypeGuard[PrivacyModeCamera]:
    """Whether ``cam`` has ``set_privacy_mode`` (looked up on the type, like motion)."""
    return callable(getattr(type(cam), "set_privacy_mode", None))


def has_software_motion(cam: BridgeCamera) -> TypeGuard[SoftwareMotionCamera]:
    """Whether ``cam`` has a ``motion(...)`` method.

    Looked up on the type, never on the instance: ``isinstance`` with a
    protocol would evaluate properties (``ptz``), which may raise.
    """
    return callable(getattr(type(cam), "motion", None))


@dataclass(frozen=True, slots=True)
class BridgeCameraOptions:
    """Per-camera settings of the MQTT bridge; every field is optional.

    ``hub`` names the NVR or account the camera was opened from: Home
    Assistant then shows the camera *via* a hub device of that name.
    ``configuration_url`` is the device page HA links to; ``None`` derives
    ``http://<host>`` from the camera URL (never with credentials), ``""``
    leaves it out. ``motion_sensitivity`` and ``motion_fps`` configure the
    detector the "software motion" switch runs. ``watch_stream`` keeps the
    camera's stream (``stream_profile``) open and publishes its state and fps
    every ``stats_interval`` seconds; without it those sensors follow the
    camera's ``stream_state`` events.
    """

    hub: str | None = None
    configuration_url: str | None = None
    motion_sensitivity: float = 0.5
    motion_fps: float = 2.0
    watch_stream: bool = False
    stream_profile: str | None = None
    stats_interval: float = 10.0

    def __post_init__(self) -> None:
        if self.hub is not None:
            try:
                topic_slug(self.hub)
            except ValueError:
                raise ConfigurationError(f"hub {self.hub!r} has no letters or digits") from None
        if not 0.0 <= self.motion_sensitivity <= 1.0:
            raise ConfigurationError("motion_sensitivity must be between 0 and 1")
        if not (math.isfinite(self.motion_fps) and self.motion_fps > 0):
            raise ConfigurationError("motion_fps must be a positive number")
        if not (math.isfinite(self.stats_interval) and self.stats_interval >= 0.05):
            raise ConfigurationError("stats_interval must be at least 0.05 s")
        url = self.configuration_url
        if url and not url.startswith(("http://", "https://")):
            raise ConfigurationError("configuration_url must be an http(s) URL")
