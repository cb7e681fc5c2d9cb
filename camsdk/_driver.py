"""The driver contract: what a vendor or protocol plugin implements.

A driver is small on purpose. The `camsdk.Camera` facade does the generic
work once for every driver (access policy, audit, capability gate, timeouts,
reconnects, the shared media pipeline, snapshot fallback, privacy masks); a
driver answers a few questions about its device:

- `CameraDriver.connect` -> `CameraInfo` (and, with
  `CameraDriver.report_capabilities`, what the device really offers),
- `CameraDriver.stream_source` -> a `StreamSource` (a URL the pipeline
  reads with camsdk's own transports) **or** `CameraDriver.open_stream` -> a
  `PacketSource` yielding packets itself,
- optionally `snapshot`, `events`, `ptz`, `open_talk`, `discover`, the
  device's own recordings (`recordings`, `download_recording`), and vendor
  extras marked with `extension`.

The base class owns the constructor: keyword arguments only, no I/O, options
parsed once from the URL query and keyword arguments into the driver's own
`DriverOptions` model (``class MyDriver(CameraDriver[MyOptions])``). Drivers
set up their own state in `CameraDriver.setup`.

Drivers import from `camsdk` and `camsdk.driver` only; see
``docs/writing-a-driver.md``.
"""

from __future__ import annotations

import abc
import ssl
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from ._access import Action
from ._errors import ConfigurationError, UnsupportedCapabilityError
from ._models import (
    CameraConfig,
    CameraEvent,
    CameraInfo,
    Capability,
    Credentials,
    DeviceRecording,
    DiscoveredCamera,
    PTZPreset,
    PTZStatus,
    Snapshot,
)
from ._url import CameraURL

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from ._media import MediaPacket, StreamInfo
    from ._talk import TalkChannel

__all__ = [
    "CameraDriver",
    "DriverOptions",
    "HubCamera",
    "HubDriver",
    "PTZDriver",
    "PacketSource",
    "RecordingSink",
    "StreamSource",
    "extension",
    "parse_options",
]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_EXTENSION_MARK = "__camsdk_extension__"


class DriverOptions(BaseModel):
    """Base of a driver's options model. Unknown options are rejected.

    Fields are read from the camera URL's query (as text) and from keyword
    arguments of `camsdk.open` (typed); pydantic converts the text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_query(self, *, exclude: typing.Iterable[str] = ()) -> dict[str, str]:
        """The options given explicitly, as URL query text (a hub hands them to its cameras)."""
        skip = set(exclude)
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            if name in skip or name not in self.model_fields_set:
                continue
            value = getattr(self, name)
            if isinstance(value, bool):
                out[name] = "1" if value else "0"
            elif isinstance(value, tuple | list):
                out[name] = ",".join(str(v) for v in value)
            elif value is not None:
                out[name] = str(value)
        return out


OptionsT = TypeVar("OptionsT", bound=DriverOptions)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
    )


def parse_options(
    model: type[OptionsT],
    url: CameraURL,
    given: OptionsT | Mapping[str, Any] | None = None,
    *,
    passthrough: bool = False,
) -> tuple[OptionsT, CameraURL]:
    """Options for ``url``: its query merged with ``given`` (keywords win), validated once.

    Returns the options and the URL the device should see: without the
    option keys. An unknown key is a `ConfigurationError`, unless
    ``passthrough`` says the rest of the query belongs to the device (RTSP
    paths with ``?channel=1``), in which case it stays in the device URL.
    """
    if isinstance(given, model):
        return given, url
    fields = model.model_fields
    values: dict[str, Any] = {}
    device_query: list[tuple[str, str]] = []
    known = ", ".join(sorted(fields)) or "none"
    for key, value in url.query:
        if key in fields:
            values[key] = value
        elif passthrough:
            device_query.append((key, value))
        else:
            raise ConfigurationError(
                f"unknown option {key!r} for {url.scheme}:// (known: {known})",
                scheme=url.scheme, url=url.redacted(),
            )
    extra: Mapping[str, Any]
    if given is None:
        extra = {}
    elif isinstance(given, BaseModel):
        extra = given.model_dump(exclude_unset=True)
    else:
        extra = given
    for key, value in extra.items():
        if key not in fields:
            raise ConfigurationError(
                f"unknown option {key!r} for {url.scheme}:// (known: {known})",
                scheme=url.scheme, url=url.redacted(),
            )
        values[key] = value
    try:
        options = model.model_validate(values)
    except ValidationError as exc:
        problem = _problems(exc)
    else:
        device_url = CameraURL(
            url.scheme, url.host, url.port, url.path, tuple(device_query), url.username,
            url.password, url.fragment,
        )
        return options, device_url
    # Raised outside the except clause: pydantic's error quotes the input values
    # (a password among them) and must not ride along as __context__.
    raise ConfigurationError(
        f"invalid option for {url.scheme}://: {problem}", scheme=url.scheme, url=url.redacted()
    )


def _options_argument(cls: type) -> type[DriverOptions] | None:
    """The ``X`` of ``class D(CameraDriver[X])`` anywhere in ``cls``'s bases, if concrete."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, _DriverBase):
                args = typing.get_args(base)
                if args and isinstance(args[0], type) and issubclass(args[0], DriverOptions):
                    return args[0]
    return None


def extension(action: Action = Action.CONFIG) -> Callable[[F], F]:
    """Mark a driver coroutine method as a vendor extra, reachable through the facade.

    ``await cam.call_extension("name", ...)`` calls it after the access policy
    allowed ``action`` and the audit log recorded it, under the camera's
    request deadline, with errors translated. An extension must not hand out
    media or secrets; use the stream and snapshot hooks for media.
    """

    def mark(method: F) -> F:
        setattr(method, _EXTENSION_MARK, action)
        return method

    return mark


@dataclass(frozen=True, slots=True)
class StreamSource:
    """Where the pipeline reads a stream from, with camsdk's own transports.

    ``url`` names the stream without credentials (``rtsp://``, ``rtsps://``,
    an ``http(s)://`` HLS playlist, or a local file for drivers that declare
    `CameraDriver.local_sources`); ``credentials`` are kept apart so no
    printed form carries them. A URL that still has a password in it is split
    on construction.

    - ``transport`` (RTSP): ``tcp`` interleaved (default), ``udp``, ``auto``
      (UDP, then TCP) or ``http`` (RTSP over HTTP tunnelling).
    - ``client`` (RTSP): ``camsdk`` (default) or ``ffmpeg``, FFmpeg's own
      RTSP client, for streams camsdk's client cannot parse yet; redirects
      are then only checked by a pre-flight DESCRIBE (see docs/drivers/rtsp.md).
    - ``format``: ``hls`` for an HLS playlist behind an ``http(s)`` URL.
    - ``options``: FFmpeg demuxer options (``client=ffmpeg`` and local files).
    - ``realtime``/``loop``: pace a local file by its timestamps / loop it.
    - ``tls`` (RTSPS, HTTPS playlists): the `ssl.SSLContext` to verify the
      server with, instead of the system CAs (a device's own CA, say).
    - ``pinned_sha256`` (RTSPS): accept exactly the server certificate with
      this SHA-256 fingerprint (hex; colons and case do not matter), on every
      connection of the stream. The pin is the trust: a self-signed
      certificate passes, with no CA or name check (unless ``tls`` asks for
      them too); any other certificate is refused with
      `camsdk.CameraUnreachableError`.

    camsdk's own RTSP client is needed for ``tls`` and ``pinned_sha256``
    (``client="ffmpeg"`` with either is a `camsdk.ConfigurationError`).
    """

    url: str
    credentials: Credentials | None = field(default=None, repr=False)
    transport: Literal["tcp", "udp", "auto", "http"] = "tcp"
    client: Literal["camsdk", "ffmpeg"] = "camsdk"
    format: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    realtime: bool = False
    loop: bool = False
    tls: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    pinned_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.pinned_sha256 is not None:
            pin = self.pinned_sha256.replace(":", "").replace(" ", "").lower()
            if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
                raise ConfigurationError(
                    "pinned_sha256 must be a SHA-256 fingerprint (64 hex digits)")
            object.__setattr__(self, "pinned_sha256", pin)
        if "@" in self.url.split("?", 1)[0] and "://" in self.url:
            parsed = CameraURL.parse(self.url)
            if parsed.username is not None:
                creds = self.credentials
                if creds is None:
                    creds = Credentials(parsed.username, parsed.password or "")
                object.__setattr__(self, "credentials", creds)
                object.__setattr__(self, "url", parsed.without_credentials().unsafe_str())

    @property
    def scheme(self) -> str:
        """The URL's scheme, lower-case (``""`` for a bare path)."""
        return self.url.split("://", 1)[0].lower() if "://" in self.url else ""

    @property
    def redacted_url(self) -> str:
        """The URL as it may be shown (it holds no credentials; secret query values masked)."""
        from ._url import redact_text

        return redact_text(self.url)

    def __repr__(self) -> str:
        return (
            f"StreamSource(url={self.redacted_url!r}, transport={self.transport!r}, "
            f"client={self.client!r}, format={self.format!r})"
        )


class PacketSource(Protocol):
    """A stream a driver produces itself (no URL the pipeline could open).

    ``info`` is valid once the driver returned the source; iteration yields
    packets with timestamps in ``info.time_base`` (audio in
    ``info.audio_time_base``) and ends by raising a camsdk error
    (`camsdk.StreamEndedError` at a normal end); ``aclose`` releases
    everything. ``live`` is true for a camera (a slow consumer drops packets)
    and false for media read at the consumers' pace (a file); ``finite`` is
    true when the end is for good (no reconnect).

    Optionally, a source may define ``async def request_keyframe(self) ->
    bool`` (a WebRTC PLI, an RTSP vendor's "force I-frame" request): the
    session calls it, at most once a second, when a consumer or a snapshot
    waits for a keyframe and none is buffered; it returns whether the
    request was sent.
    """

    @property
    def info(self) -> StreamInfo:
        """Codec parameters of the stream."""
        ...

    @property
    def live(self) -> bool:
        """Whether packets arrive in real time (a camera), not at the reader's pace."""
        ...

    @property
    def finite(self) -> bool:
        """Whether the source ends for good (a file, a VOD playlist): no reconnecting."""
        ...

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        """Yield packets until the source ends or fails."""
        ...

    async def aclose(self) -> None:
        """Release the source; safe to call twice."""
        ...


class RecordingSink(Protocol):
    """Where `CameraDriver.download_recording` writes a recording's bytes.

    The facade's sink writes to an exclusive temporary file off the event
    loop and refuses more than its byte cap (`camsdk.RecordingError`).
    """

    @property
    def written(self) -> int:
        """Bytes written so far."""
        ...

    async def write(self, data: bytes) -> None:
        """Append ``data`` to the file."""
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


class _DriverBase(Generic[OptionsT]):
    """What camera and hub drivers share: the constructor and option parsing."""

    #: URL schemes this driver serves, e.g. ``("rtsp", "rtsps")``.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: Human name for docs and ``camsdk drivers``.
    display_name: ClassVar[str] = ""
    #: Install hint shown when the driver cannot be imported, e.g. ``pip install camsdk[x]``.
    requires: ClassVar[str] = ""
    #: The options model; set from ``CameraDriver[Options]`` unless given explicitly.
    Options: ClassVar[type[DriverOptions]] = DriverOptions
    #: When true the URL's query belongs to the device (e.g. RTSP paths with
    #: ``?channel=1``) and only ``Options`` fields are taken out of it.
    query_passthrough: ClassVar[bool] = False
    #: Hosts this driver may contact besides the one in the camera URL (cloud
    #: APIs, e.g. ``("api.example.com",)``; a leading ``*.`` allows subdomains).
    egress_hosts: ClassVar[tuple[str, ...]] = ()

    options: OptionsT

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Options" not in cls.__dict__:
            found = _options_argument(cls)
            if found is not None:
                cls.Options = found

    @typing.final
    def __init__(
        self,
        *,
        url: CameraURL,
        credentials: Credentials | None = None,
        config: CameraConfig | None = None,
        options: OptionsT | Mapping[str, Any] | None = None,
    ) -> None:
        """Keep the arguments, parse the options (once), then call `setup`. No I/O."""
        if credentials is not None and not isinstance(credentials, Credentials):
            raise ConfigurationError(
                "credentials must be camsdk.Credentials", scheme=url.scheme, url=url.redacted()
            )
        model = cast("type[OptionsT]", self.Options)
        self.options, url = parse_options(model, url, options, passthrough=self.query_passthrough)
        self.url = url
        self.credentials = credentials
        self.config = config if config is not None else CameraConfig()
        self.setup()

    def setup(self) -> None:
        """Check the URL and options and build the driver's state. No I/O.

        Raise `camsdk.ConfigurationError` for what can be known wrong before
        talking to the device.
        """

    @property
    def username(self) -> str | None:
        """The user name from ``credentials`` or, failing that, the URL."""
        if self.credentials is not None:
            return self.credentials.username
        return self.url.username

    @property
    def password(self) -> str | None:
        """The password from ``credentials`` or the URL. Never log it."""
        if self.credentials is not None:
            return self.credentials.password.get_secret_value()
        return self.url.password

    def login(self) -> Credentials | None:
        """``credentials``, or the URL's user and password as `Credentials`, or ``None``."""
        if self.credentials is not None:
            return self.credentials
        if self.url.username is not None:
            return Credentials(self.url.username, self.url.password or "")
        return None

    def allowed_hosts(self) -> frozenset[str]:
        """Hosts the driver may contact: the URL's, ``allow_redirect_hosts`` and `egress_hosts`."""
        hosts = {self.url.host.lower(), *(h.lower() for h in self.config.allow_redirect_hosts)}
        hosts.update(h.lower() for h in self.egress_hosts)
        hosts.discard("")
        return frozenset(hosts)

    @property
    def shown(self) -> str:
        """The URL as it may be printed: no user name or password, secret query values masked.

        For error messages, logs and `repr`; a driver whose URL is not the
        best name for it (a cloud account) overrides this.
        """
        return self.url.without_credentials().redacted()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.shown!r})"


class CameraDriver(_DriverBase[OptionsT], abc.ABC):
    """Base class of camera drivers (see the module docstring for the contract).

    Subclass as ``class AcmeDriver(CameraDriver[AcmeOptions])``; the options
    model is then ``AcmeDriver.Options`` and ``self.options`` is typed.
    """

    #: Everything the driver can do with a device that offers it.
    declared_capabilities: ClassVar[Capability] = Capability.NONE
    #: Whether `stream_source` may return local (non-network) URLs such as
    #: files. Only drivers that read local media on the caller's behalf set it.
    local_sources: ClassVar[bool] = False
    #: Names of the methods marked with `extension` (filled in per class).
    extensions: ClassVar[Mapping[str, Action]] = types.MappingProxyType({})
    #: Battery devices close their upstream as soon as nobody watches.
    battery_powered: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Action] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                action = getattr(value, _EXTENSION_MARK, None)
                if isinstance(action, Action) and not name.startswith("_"):
                    found[name] = action
        cls.extensions = types.MappingProxyType(found)

    @property
    def camera_id(self) -> str:
        """A stable identifier of the camera (no secrets)."""
        return self.url.without_credentials().redacted()

    @property
    def capabilities(self) -> Capability:
        """What this device can do: the declared capabilities, narrowed by the driver."""
        offered: Capability = getattr(self, "_offered", self.declared_capabilities)
        return offered

    def report_capabilities(
        self, offered: Capability, *, reasons: Mapping[Capability, str] | None = None
    ) -> None:
        """Say what this device really offers (never more than declared).

        Call it in `setup` (from the options) or in `connect` (from what the
        device said); the facade gates every call on the result. ``reasons``
        say why a declared capability is missing (``{Capability.STREAM:
        "end-to-end encryption is on"}``); the facade's refusal quotes them.
        """
        self._offered = self.declared_capabilities & offered
        self._missing = {flag: text for flag, text in (reasons or {}).items() if text}

    def missing_reason(self, capability: Capability) -> str:
        """Why ``capability`` is not offered, as `report_capabilities` was told (or ``""``)."""
        missing: Mapping[Capability, str] = getattr(self, "_missing", {})
        return "; ".join(text for flag, text in missing.items() if flag & capability)

    def audit_record(self, event: str, **fields: Any) -> None:
        """Write ``{"event": event, **fields}`` to the camera's audit log.

        For what a driver does on someone's behalf that the owner should be
        able to see: waking a battery device, switching privacy mode. The
        record names the principal of the current request (see
        `current_request`). Fails closed: `AccessDeniedError` when the log
        cannot be written. Outside a facade (a bare driver), it does nothing.
        """
        hook = getattr(self, "_audit_hook", None)
        if hook is not None:
            hook({"event": event, **fields})

    @abc.abstractmethod
    async def connect(self) -> CameraInfo:
        """Talk to the device (authenticate, read its identity). Raise typed errors."""

    async def close(self) -> None:
        """Release what `connect` acquired. Idempotent."""

    async def privacy_mode(self) -> bool:
        """Whether the device is in privacy mode now (optional; `PRIVACY_MODE`)."""
        raise UnsupportedCapabilityError("this driver has no privacy mode")

    async def set_privacy_mode(self, on: bool) -> None:
        """Switch the device's privacy mode (optional; `PRIVACY_MODE`)."""
        raise UnsupportedCapabilityError("this driver has no privacy mode")

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

    async def open_talk(self) -> TalkChannel:
        """Open an audio path to the device's speaker (optional; `TWO_WAY_AUDIO`)."""
        raise UnsupportedCapabilityError("this driver has no two-way audio")

    async def recordings(self, start: datetime, end: datetime) -> list[DeviceRecording]:
        """The device's own recordings overlapping ``start``..``end`` (optional; `HISTORY`).

        Times are timezone-aware; return `DeviceRecording` models (``id`` as
        text). The facade decides and audits the listing.
        """
        raise UnsupportedCapabilityError("this driver lists no recordings")

    async def download_recording(
        self,
        recording: DeviceRecording,
        file: RecordingSink,
        progress: Callable[[float], None] | None,
    ) -> None:
        """Write ``recording``'s media (as the vendor stores it) to ``file`` (optional; `HISTORY`).

        Call ``progress`` with the finished fraction when the size is known.
        The facade owns the file, the access decision and the audit record.
        """
        raise UnsupportedCapabilityError("this driver downloads no recordings")

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
    """One camera listed by a hub.

    ``online`` is false for a channel that is present but unusable (offline,
    or the device refuses its stream); ``reason`` says why.
    """

    id: str
    name: str
    url: str = field(repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)
    online: bool = True
    reason: str = ""


class HubDriver(_DriverBase[OptionsT], abc.ABC):
    """Base class of hub drivers: NVRs and cloud accounts that list cameras."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Log in or reach the NVR."""

    async def close(self) -> None:
        """Release the session. Idempotent."""

    @abc.abstractmethod
    async def cameras(self) -> list[HubCamera]:
        """List the cameras this hub offers."""

    @abc.abstractmethod
    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """Build a driver for ``camera`` that shares the hub's session (no I/O)."""
