"""Pydantic models for what crosses the API edge at human rates.

Configuration, device information, snapshots, events and PTZ types are
validated models. Per-packet and per-frame objects live in `camsdk._media`
as plain dataclasses instead, because they are created many times a second.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import os
    from collections.abc import Callable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    field_validator,
)

__all__ = [
    "CameraConfig",
    "CameraEvent",
    "CameraInfo",
    "Capability",
    "Credentials",
    "DeviceRecording",
    "DiscoveredCamera",
    "DriverInfo",
    "EventKind",
    "OverflowPolicy",
    "PTZPreset",
    "PTZStatus",
    "Recording",
    "Snapshot",
    "StreamProfile",
    "StreamState",
    "StreamStats",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Capability(enum.Flag):
    """What a camera (or a driver, at most) can do. Test with ``in`` or `Camera.supports`."""

    NONE = 0
    SNAPSHOT = enum.auto()
    STREAM = enum.auto()
    AUDIO = enum.auto()
    EVENTS = enum.auto()
    PTZ = enum.auto()
    PTZ_PRESETS = enum.auto()
    RECORD = enum.auto()
    TWO_WAY_AUDIO = enum.auto()
    DISCOVERY = enum.auto()
    BATTERY = enum.auto()
    HUB = enum.auto()
    PRIVACY_MASK = enum.auto()  # the device masks its own output
    PRIVACY_MODE = enum.auto()  # the device can stop capturing (lens cover, privacy mode)
    HISTORY = enum.auto()  # recordings kept by the device or its cloud, listed and downloaded

    @classmethod
    def parse(cls, names: str) -> Capability:
        """Build a flag from ``"snapshot,stream"``-style text."""
        flag = cls.NONE
        for name in filter(None, (n.strip().upper() for n in names.split(","))):
            flag |= cls[name]
        return flag

    def names(self) -> list[str]:
        """Lower-case names of the set members, in declaration order."""
        return [m.name.lower() for m in type(self) if m.name and m.value and m in self]


class Credentials(BaseModel):
    """A user name and password. The password is a `SecretStr`: it prints as ``**********``."""

    model_config = ConfigDict(frozen=True)

    username: str
    password: SecretStr = SecretStr("")

    def __init__(self, username: str, password: str | SecretStr = "", **data: Any) -> None:
        super().__init__(username=username, password=password, **data)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='**********')"

    __str__ = __repr__


class OverflowPolicy(str, enum.Enum):
    """What a consumer's bounded queue does when the consumer falls behind.

    ``DROP_OLDEST`` (default) discards the oldest queued items, counts them,
    and resumes the consumer on the next keyframe after a `Discontinuity`.
    ``DROP_NEWEST`` discards arriving items instead, with the same resync.
    ``BLOCK`` holds the upstream back: only meaningful for non-live sources
    (files) where the consumer should see every packet.
    """

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    BLOCK = "block"


class CameraConfig(BaseModel):
    """Per-camera behaviour: deadlines, buffering and reconnect policy (seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout: float = Field(default=10.0, gt=0)
    open_timeout: float = Field(default=10.0, gt=0, description="stream open to first keyframe")
    request_timeout: float = Field(default=10.0, gt=0)
    snapshot_timeout: float = Field(default=10.0, gt=0)
    stall_timeout: float = Field(default=10.0, gt=0)
    idle_close: float | None = Field(
        default=None,
        ge=0,
        description="seconds an unused upstream stays open; None = 5, or 0 for battery",
    )
    prebuffer: float = Field(default=0.0, ge=0, description="seconds of media kept beyond one GOP")
    queue_size: int = Field(default=256, ge=2, description="per-consumer queue length")
    overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST
    backoff_base: float = Field(default=1.0, gt=0)
    backoff_cap: float = Field(default=60.0, gt=0)
    backoff_reset: float = Field(
        default=300.0, gt=0, description="healthy seconds that reset backoff"
    )
    verify_tls: bool = True
    allow_redirect_hosts: tuple[str, ...] = ()


class CameraInfo(BaseModel):
    """What a camera says about itself after `Camera.connect`."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    hardware_id: str = ""
    location: str = ""
    profiles: tuple[StreamProfile, ...] = ()
    extra: dict[str, str] = Field(default_factory=dict)


class StreamProfile(BaseModel):
    """One stream a camera offers (``main``, ``sub``, an ONVIF profile ...)."""

    model_config = ConfigDict(frozen=True)

    name: str
    token: str = ""
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None
    audio_codec: str | None = None


class Snapshot(BaseModel):
    """A JPEG still. ``source``: the device made it, it came from the stream, or it is the
    picture a cloud service kept of an event (``event_image``; see ``age``)."""

    model_config = ConfigDict(frozen=True)

    jpeg: bytes = Field(repr=False)
    width: int
    height: int
    captured_at: datetime
    source: Literal["device", "stream", "event_image"]
    camera_id: str = ""

    def _repr_jpeg_(self) -> bytes:
        """Let Jupyter show the snapshot inline."""
        return self.jpeg

    @property
    def age(self) -> float:
        """Seconds since the picture was captured."""
        return (_utcnow() - self.captured_at).total_seconds()

    def save(self, path: str | Path) -> Path:
        """Write the JPEG to ``path`` and return it."""
        target = Path(path)
        target.write_bytes(self.jpeg)
        return target


class EventKind(str, enum.Enum):
    """The normalised kinds of camera events."""

    MOTION = "motion"
    PERSON = "person"
    VEHICLE = "vehicle"
    ANIMAL = "animal"
    PACKAGE = "package"
    FACE_DETECTED = "face_detected"  # presence only, never identity
    DOORBELL = "doorbell"
    SOUND = "sound"
    TAMPER = "tamper"
    LINE_CROSSING = "line_crossing"
    INTRUSION = "intrusion"
    INPUT = "input"
    CONNECTION = "connection"
    STREAM_STATE = "stream_state"
    OTHER = "other"


class CameraEvent(BaseModel):
    """One normalised event. Start, updates and end share one ``event_id``."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    camera_id: str = ""
    event_id: str = ""
    active: bool = True
    started_at: datetime = Field(default_factory=_utcnow)
    ended_at: datetime | None = None
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    zone: str | None = None
    region: tuple[float, float, float, float] | None = None
    device_time: datetime | None = None
    received_at: datetime = Field(default_factory=_utcnow)
    vendor: str = ""
    topic: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)
    #: Set by ``Camera.events(with_snapshot=True)``: the picture at the event.
    snapshot: Snapshot | None = Field(default=None, repr=False, exclude=True)


class PTZPreset(BaseModel):
    """A stored PTZ position."""

    model_config = ConfigDict(frozen=True)

    token: str
    name: str = ""


class PTZStatus(BaseModel):
    """Current PTZ position in normalised coordinates (pan/tilt -1..1, zoom 0..1)."""

    model_config = ConfigDict(frozen=True)

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    moving: bool = False


class StreamState(str, enum.Enum):
    """Where a stream session is in its life."""

    IDLE = "idle"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    BACKOFF = "backoff"
    AUTH_FAILED = "auth_failed"
    #: The device's privacy mode stopped the stream (not a fault: no reconnect).
    PRIVACY_MODE = "privacy_mode"
    CLOSED = "closed"


class StreamStats(BaseModel):
    """Counters of one stream session and of one consumer of it."""

    model_config = ConfigDict(frozen=True)

    state: StreamState
    consumers: int
    packets: int
    bytes: int
    keyframes: int
    reconnects: int
    dropped: int = Field(description="items this consumer lost to its overflow policy")
    decoded_frames: int = 0
    fps: float | None = None
    bitrate: float | None = None


class Recording(BaseModel):
    """The result of `Camera.record`: a finished clip on disk.

    ``started_at`` is the wall-clock time of the clip's first picture;
    ``pre_roll`` how much of the clip lies before the call, which can be less
    than ``pre_roll_requested`` when the camera had not buffered that much
    yet (a warning is logged then). Durations are exact to the microsecond.
    """

    model_config = ConfigDict(frozen=True)

    path: Path = Field(description="where the clip is")
    duration: float = Field(description="seconds of media in the clip")
    pre_roll: float = Field(description="seconds of the clip from before the call")
    pre_roll_requested: float = Field(default=0.0, description="the pre-roll asked for")
    started_at: datetime = Field(description="wall-clock time of the first picture (UTC)")
    video_packets: int = Field(description="video packets written")
    audio_packets: int = Field(description="audio packets written")
    bytes: int = Field(description="media bytes written (payload, without container overhead)")
    audio: str = Field(
        default="none",
        description='the camera\'s audio in the clip: "copied", "transcoded to aac" (G.711 '
        'in MP4), "dropped (<why>)" or "none"',
    )


class DeviceRecording(BaseModel):
    """A recording the device or its cloud keeps, as `Camera.recordings` lists it.

    ``id`` is the vendor's id as text (cloud ids exceed what a float holds),
    ``start``/``end`` are UTC, ``kind`` says what triggered it. Download it
    with `download`: the same access decision and audit as any raw-media
    egress of the camera that listed it.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=256, description="the vendor's id, as text")
    camera_id: str = Field(default="", description="the camera that listed it")
    start: datetime = Field(description="when the recording starts (UTC)")
    end: datetime | None = Field(default=None, description="when it ends (UTC), if known")
    kind: EventKind = Field(default=EventKind.OTHER, description="what triggered it")
    duration: float | None = Field(default=None, ge=0, description="seconds, if known")
    extra: dict[str, Any] = Field(default_factory=dict, description="vendor details")
    # The camera that listed it (set by the facade): downloads go through its gate.
    _camera: Any = PrivateAttr(default=None)

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("recording times must be timezone-aware")
        return value.astimezone(UTC)

    async def download(
        self,
        path: str | os.PathLike[str],
        *,
        progress: Callable[[float], None] | None = None,
        purpose: str = "",
        timeout: float = 300.0,
    ) -> Recording:
        """Download the recording to ``path`` (``.mp4``, ``.mkv`` ...); return what was written.

        Decided and audited as a ``history`` egress of raw media (denied
        under privacy masks unless the grant allows ``raw_media``). The
        vendor's media is remuxed (never transcoded) into the container the
        suffix names, written to a temporary name, and appears under
        ``path`` only when complete; ``progress`` gets the finished fraction
        of the download; ``timeout`` bounds the whole of it.
        """
        from ._history import download_recording

        return await download_recording(self, path, progress=progress, purpose=purpose,
                                        timeout=timeout)


class DriverInfo(BaseModel):
    """What `camsdk.available_drivers` reports per scheme."""

    model_config = ConfigDict(frozen=True)

    scheme: str
    target: str
    display_name: str = ""
    capabilities: Capability = Capability.NONE
    available: bool = True
    requires: str = ""
    error: str = ""
    builtin: bool = True

    @field_serializer("capabilities")
    def _capability_names(self, value: Capability) -> list[str]:
        return value.names()


class DiscoveredCamera(BaseModel):
    """A camera found on the network by `camsdk.discover`."""

    model_config = ConfigDict(frozen=True)

    url: str
    name: str = ""
    vendor: str = ""
    model: str = ""
    address: str = ""
    scopes: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    driver: str = ""


CameraInfo.model_rebuild()
CameraEvent.model_rebuild()
