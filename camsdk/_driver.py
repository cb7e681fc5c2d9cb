"""The driver contract: what a vendor or protocol plugin implements.

A driver is small on purpose. The `camsdk.Camera` facade does the generic
work once for every driver (access policy, audit, capability gate, timeouts,
reconnects, the shared media pipeline, snapshot fallback); a driver answers a
few questions about its device:

- `CameraDriver.connect` -> `CameraInfo` (and the real capabilities),
- `CameraDriver.stream_source` -> a `StreamSource` (a URL plus FFmpeg
  options, read by the shared PyAV pipeline) **or**
  `CameraDriver.open_stream` -> a `PacketSource` yielding packets itself,
- optionally `snapshot`, `events`, `ptz`, `discover`.

Constructors take keyword arguments only and do no I/O.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from ._errors import UnsupportedCapabilityError
from ._models import (
    CameraConfig,
    CameraEvent,
    CameraInfo,
    Capability,
    Credentials,
    DiscoveredCamera,
    PTZPreset,
    PTZStatus,
    Snapshot,
)
from ._url import CameraURL, redact_text

if TYPE_CHECKING:  # pragma: no cover
    from ._media import MediaPacket, StreamInfo

__all__ = [
    "CameraDriver",
    "DriverOptions",
    "HubCamera",
    "HubDriver",
    "PTZDriver",
    "PacketSource",
    "StreamSource",
]


class DriverOptions(BaseModel):
    """Base of a driver's options model. Unknown options are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _coerce_options(
    model: type[DriverOptions],
    url: CameraURL,
    options: DriverOptions | None,
    passthrough: bool,
) -> DriverOptions:
    """``options`` as the driver's own model; missing ones come from the URL's query.

    `camsdk.open` always passes a validated model; drivers built directly (by
    a hub, or in tests) get the same parsing here.
    """
    from pydantic import ValidationError

    from ._errors import ConfigurationError

    if isinstance(options, model):
        return options
    given = options.model_dump(exclude_unset=True) if options is not None else {}
    query = url.options
    if passthrough:
        # The rest of the query belongs to the device.
        query = {k: v for k, v in query.items() if k in model.model_fields}
    try:
        return model.model_validate({**query, **given})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
        )
    raise ConfigurationError(
        f"invalid option for {url.scheme}://: {problems}", scheme=url.scheme, url=url.redacted()
    )


@dataclass(frozen=True, slots=True)
class StreamSource:
    """Where the shared pipeline reads a stream from with PyAV.

    ``url`` may carry credentials for the transport; it is never printed:
    ``repr`` shows a redacted form and ``secrets`` lists strings to scrub from
    FFmpeg's log lines.
    """

    url: str = field(repr=False)
    options: Mapping[str, str] = field(default_factory=dict)
    format: str | None = None
    #: Pace reading by timestamps (file replay) instead of as fast as it arrives.
    realtime: bool = False
    #: Start again at the end instead of raising `StreamEndedError` (files).
    loop: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def redacted_url(self) -> str:
        """The URL with credentials removed."""
        return redact_text(self.url, self.secrets)

    def __repr__(self) -> str:
        return f"StreamSource(url={self.redacted_url!r}, format={self.format!r})"


class PacketSource(Protocol):
    """A stream a driver produces itself (no URL the pipeline could open).

    ``info`` is valid once the driver returned the source; iteration yields
    packets with timestamps in ``info.time_base`` (audio in
    ``info.audio_time_base``); ``aclose`` releases everything.
    """

    @property
    def info(self) -> StreamInfo:
        """Codec parameters of the stream."""
        ...

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        """Yield packets until the source ends or fails."""
        ...

    async def aclose(self) -> None:
        """Release the source; safe to call twice."""
        ...


class PTZDriver(abc.ABC):
    """PTZ of one camera, in normalised coordinates.

    Pan and tilt run from -1 to 1, zoom from 0 to 1; speeds from -1 to 1.
    Drivers map these onto the device's own spaces.
    """

    #: Whether presets are supported (drivers set it from the device).
    supports_presets: bool = False

    @abc.abstractmethod
    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start moving at the given speeds until `stop`."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop any movement."""

    @abc.abstractmethod
    async def status(self) -> PTZStatus:
        """Current position."""

    async def absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move to an absolute position."""
        raise UnsupportedCapabilityError("absolute PTZ moves are not supported")

    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move by an offset from the current position."""
        raise UnsupportedCapabilityError("relative PTZ moves are not supported")

    async def presets(self) -> list[PTZPreset]:
        """Stored presets."""
        raise UnsupportedCapabilityError("PTZ presets are not supported")

    async def goto_preset(self, token: str) -> None:
        """Move to a stored preset."""
        raise UnsupportedCapabilityError("PTZ presets are not supported")

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the current position as a preset."""
        raise UnsupportedCapabilityError("PTZ presets are not supported")

    async def home(self) -> None:
        """Move to the home position."""
        raise UnsupportedCapabilityError("PTZ home position is not supported")


class CameraDriver(abc.ABC):
    """Base class of camera drivers (see the module docstring for the contract)."""

    #: URL schemes this driver serves, e.g. ``("rtsp", "rtsps")``.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: Human name for docs and ``camsdk drivers``.
    display_name: ClassVar[str] = ""
    #: Everything the driver can do with a device that offers it.
    declared_capabilities: ClassVar[Capability] = Capability.NONE
    #: Install hint shown when the driver cannot be imported.
    requires: ClassVar[str] = ""
    #: Options accepted in the URL query and as keyword arguments of `camsdk.open`.
    Options: ClassVar[type[DriverOptions]] = DriverOptions
    #: When true the URL's query belongs to the device (e.g. RTSP paths with
    #: ``?channel=1``) and only ``Options`` fields are taken out of it.
    query_passthrough: ClassVar[bool] = False
    #: Whether `stream_source` may return local (non-network) URLs such as
    #: files. Only drivers that read local media on the caller's behalf set it.
    local_sources: ClassVar[bool] = False
    #: Battery devices close their upstream as soon as nobody watches.
    battery_powered: bool = False

    def __init__(
        self,
        *,
        url: CameraURL,
        credentials: Credentials | None = None,
        config: CameraConfig | None = None,
        options: DriverOptions | None = None,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.config = config if config is not None else CameraConfig()
        self.options = _coerce_options(self.Options, url, options, self.query_passthrough)

    @property
    def camera_id(self) -> str:
        """A stable identifier of the camera (no secrets)."""
        return self.url.without_credentials().redacted()

    @property
    def capabilities(self) -> Capability:
        """What this device can do; drivers narrow it in `connect`."""
        return self.declared_capabilities

    @abc.abstractmethod
    async def connect(self) -> CameraInfo:
        """Talk to the device (authenticate, read its identity). Raise typed errors."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what `connect` acquired. Idempotent."""

    async def stream_source(self, profile: str) -> StreamSource:
        """Return where the pipeline should read ``profile`` from."""
        raise UnsupportedCapabilityError("this driver has no URL-addressable stream")

    async def open_stream(self, profile: str) -> PacketSource:
        """Open ``profile`` and return a source yielding packets (alternative to URLs)."""
        raise UnsupportedCapabilityError("this driver does not produce packets itself")

    async def snapshot(self, profile: str) -> Snapshot:
        """Fetch a still from the device itself (optional)."""
        raise UnsupportedCapabilityError("this driver has no native snapshot")

    def events(self) -> AsyncIterator[CameraEvent]:
        """Yield the device's raw events until cancelled (optional)."""
        raise UnsupportedCapabilityError("this driver has no events")

    def ptz(self) -> PTZDriver:
        """Return the PTZ control of this camera (optional)."""
        raise UnsupportedCapabilityError("this driver has no PTZ")

    @classmethod
    def discover(cls, timeout: float) -> AsyncIterator[DiscoveredCamera]:
        """Find devices on the local network (optional; opt-in by the caller)."""
        raise UnsupportedCapabilityError(f"{cls.__name__} has no discovery")

    @classmethod
    def overrides(cls, name: str) -> bool:
        """Whether this driver class implements the optional hook ``name``."""
        return getattr(cls, name) is not getattr(CameraDriver, name)


@dataclass(frozen=True, slots=True)
class HubCamera:
    """One camera listed by a hub."""

    id: str
    name: str
    url: str
    extra: Mapping[str, Any] = field(default_factory=dict)


class HubDriver(abc.ABC):
    """Base class of hub drivers: NVRs and cloud accounts that list cameras."""

    schemes: ClassVar[tuple[str, ...]] = ()
    display_name: ClassVar[str] = ""
    requires: ClassVar[str] = ""
    Options: ClassVar[type[DriverOptions]] = DriverOptions

    def __init__(
        self,
        *,
        url: CameraURL,
        credentials: Credentials | None = None,
        config: CameraConfig | None = None,
        options: DriverOptions | None = None,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.config = config if config is not None else CameraConfig()
        self.options = _coerce_options(self.Options, url, options, passthrough=False)

    @abc.abstractmethod
    async def connect(self) -> None:
        """Log in or reach the NVR."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the session. Idempotent."""

    @abc.abstractmethod
    async def cameras(self) -> list[HubCamera]:
        """List the cameras this hub offers."""

    @abc.abstractmethod
    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver:
        """Build a driver for ``camera`` that shares the hub's session (no I/O)."""
