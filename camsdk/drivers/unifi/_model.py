"""Protect's JSON, read leniently into small typed records (both APIs).

The private bootstrap (``/proxy/protect/api/bootstrap``) describes the
console (``nvr``, with its RTSP ports) and every camera with its channels
(``rtspAlias`` per quality); the Integration API (``/v1/cameras``) lists
cameras with fewer fields and hands out RTSPS URLs per quality on request.
Unknown keys are ignored and missing ones take defaults: firmware of every
age adds and drops fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from camsdk.driver import CameraProtocolError, StreamProfile

__all__ = [
    "QUALITIES",
    "Channel",
    "ConsoleInfo",
    "ProtectCamera",
    "normalise_rtsps",
    "parse_bootstrap",
    "parse_integration_camera",
]

#: Protect's stream qualities, best first (channel ids 0, 1, 2).
QUALITIES = ("high", "medium", "low")
#: Cap on cameras read from one console (the largest consoles hold a few hundred).
MAX_CAMERAS = 1024


@dataclass(frozen=True, slots=True)
class Channel:
    """One stream of a camera: a quality with its RTSP alias and its video settings."""

    quality: str
    alias: str = field(default="", repr=False)
    enabled: bool = True
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None
    url: str = field(default="", repr=False)  # Integration API: the full RTSPS URL

    def profile(self, codec: str | None) -> StreamProfile:
        """This channel as a camsdk `StreamProfile`."""
        return StreamProfile(name=self.quality, token=self.quality, codec=codec,
                             width=self.width, height=self.height, fps=self.fps,
                             bitrate=self.bitrate)


@dataclass(frozen=True, slots=True)
class ProtectCamera:
    """A Protect camera as the console describes it."""

    id: str
    name: str
    model: str = ""
    type: str = ""
    mac: str = ""
    firmware: str = ""
    state: str = "CONNECTED"
    connected: bool = True
    doorbell: bool = False
    ptz: bool = False
    speaker: bool = False
    codec: str | None = "h264"
    smart_types: tuple[str, ...] = ()
    channels: tuple[Channel, ...] = ()
    privacy_zones: tuple[str, ...] = ()
    privacy_full: bool = False
    #: PTZ step ranges from ``featureFlags`` (``pan``/``tilt``/``zoom``).
    ptz_ranges: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def channel(self, quality: str) -> Channel | None:
        """The channel of ``quality`` (``high``/``medium``/``low``), if any."""
        return next((c for c in self.channels if c.quality == quality), None)

    @property
    def usable_channels(self) -> tuple[Channel, ...]:
        """Enabled channels with an RTSP alias or URL, best first."""
        return tuple(c for c in self.channels if c.enabled and (c.alias or c.url))


@dataclass(frozen=True, slots=True)
class ConsoleInfo:
    """The console (NVR) itself: identity and the RTSP ports it serves."""

    id: str
    name: str = ""
    model: str = ""
    mac: str = ""
    version: str = ""
    firmware: str = ""
    rtsps_port: int = 7441
    rtsp_port: int = 7447
    last_update_id: str = ""


def _text(value: Any, limit: int = 256) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 0 < value < 1_000_000_000 else None


def _port(value: Any, default: int) -> int:
    port = _int(value)
    return port if port is not None and port <= 65535 else default


def _quality(raw: Mapping[str, Any], index: int) -> str:
    name = _text(raw.get("name")).lower()
    if name in QUALITIES:
        return name
    if "package" in name:
        return "package"  # the G4 Doorbell Pro's second, downward camera
    ident = raw.get("id")
    if isinstance(ident, int) and not isinstance(ident, bool):
        return QUALITIES[ident] if 0 <= ident < len(QUALITIES) else f"channel{ident}"
    return QUALITIES[index] if index < len(QUALITIES) else f"channel{index}"


def _channels(raw: Any) -> tuple[Channel, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[Channel] = []
    for index, item in enumerate(raw[:8]):
        if not isinstance(item, Mapping):
            continue
        out.append(Channel(
            quality=_quality(item, index),
            alias=_text(item.get("rtspAlias"), 128) if item.get("isRtspEnabled", True) else "",
            enabled=bool(item.get("enabled", True)),
            width=_int(item.get("width")),
            height=_int(item.get("height")),
            fps=float(item["fps"]) if _int(item.get("fps")) else None,
            bitrate=_int(item.get("bitrate")),
        ))
    return tuple(out)


def _full_frame(points: Any) -> bool:
    """Whether a privacy zone's polygon covers the whole picture."""
    if not isinstance(points, list) or len(points) < 4:
        return False
    try:
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
    except (TypeError, ValueError, IndexError):
        return False
    return min(xs) <= 0.0 and min(ys) <= 0.0 and max(xs) >= 1.0 and max(ys) >= 1.0


def _camera(raw: Mapping[str, Any]) -> ProtectCamera:
    ident = _text(raw.get("id"), 64)
    if not ident:
        raise CameraProtocolError("a camera without an id", scheme="unifi")
    flags = raw.get("featureFlags")
    flags = flags if isinstance(flags, Mapping) else {}
    kind = _text(raw.get("type"))
    zones = raw.get("privacyZones")
    zones = [z for z in zones if isinstance(z, Mapping)] if isinstance(zones, list) else []
    smart = flags.get("smartDetectTypes")
    state = _text(raw.get("state")) or "CONNECTED"
    connected = raw.get("isConnected")
    codec = _text(raw.get("videoCodec")).lower() or "h264"
    return ProtectCamera(
        id=ident,
        name=_text(raw.get("name")) or ident,
        model=_text(raw.get("marketName")) or kind,
        type=kind,
        mac=_text(raw.get("mac"), 32),
        firmware=_text(raw.get("firmwareVersion"), 64),
        state=state,
        connected=bool(connected) if isinstance(connected, bool) else state == "CONNECTED",
        doorbell=bool(flags.get("isDoorbell")) or "doorbell" in kind.lower(),
        ptz=bool(flags.get("isPtz")),
        speaker=bool(flags.get("hasSpeaker")),
        codec="h265" if codec in ("h265", "hevc") else codec,
        smart_types=tuple(_text(t, 32) for t in smart[:16]) if isinstance(smart, list) else (),
        channels=_channels(raw.get("channels")),
        privacy_zones=tuple(_text(z.get("name"), 64) for z in zones[:32]),
        privacy_full=any(_full_frame(z.get("points")) for z in zones[:32]),
        ptz_ranges={k: flags[k] for k in ("pan", "tilt", "zoom")
                    if isinstance(flags.get(k), Mapping)},
    )


def parse_bootstrap(data: Any) -> tuple[ConsoleInfo, list[ProtectCamera]]:
    """The console and its cameras from a private bootstrap document."""
    if not isinstance(data, Mapping) or not isinstance(data.get("nvr"), Mapping):
        raise CameraProtocolError("the bootstrap names no console (nvr)", scheme="unifi")
    nvr = data["nvr"]
    ports = nvr.get("ports") if isinstance(nvr.get("ports"), Mapping) else {}
    console = ConsoleInfo(
        id=_text(nvr.get("id"), 64) or _text(nvr.get("mac"), 32),
        name=_text(nvr.get("name")),
        model=_text(nvr.get("marketName")) or _text(nvr.get("type")),
        mac=_text(nvr.get("mac"), 32),
        version=_text(nvr.get("version"), 64),
        firmware=_text(nvr.get("firmwareVersion"), 64),
        rtsps_port=_port(ports.get("rtsps"), 7441),
        rtsp_port=_port(ports.get("rtsp"), 7447),
        last_update_id=_text(data.get("lastUpdateId"), 64),
    )
    cameras = data.get("cameras")
    if not isinstance(cameras, list):
        raise CameraProtocolError("the bootstrap lists no cameras", scheme="unifi")
    return console, [_camera(c) for c in cameras[:MAX_CAMERAS] if isinstance(c, Mapping)]


def parse_integration_camera(raw: Any, streams: Mapping[str, Any] | None = None) -> ProtectCamera:
    """A camera of the Integration API, with its RTSPS URLs per quality if known."""
    if not isinstance(raw, Mapping):
        raise CameraProtocolError("a camera entry is not an object", scheme="unifi")
    camera = _camera(raw)
    channels = tuple(
        Channel(quality=q, url=str(streams[q])[:512])
        for q in QUALITIES
        if streams is not None and isinstance(streams.get(q), str) and streams[q]
    )
    from dataclasses import replace

    return replace(camera, channels=channels)


def normalise_rtsps(url: str, host: str, port: int | None = None) -> str:
    """An RTSPS URL as camsdk reads it: the console's host, port 7441 (or ``port``),
    and without ``?enableSrtp`` (SRTP is not what camsdk's client speaks)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("rtsps", "rtsp"):
        raise CameraProtocolError("the console handed out a stream URL that is not RTSP(S)",
                                  scheme="unifi")
    query = "&".join(
        p for p in parts.query.split("&") if p and p.split("=", 1)[0].lower() != "enablesrtp"
    )
    netloc_host = f"[{host}]" if ":" in host else host
    chosen = port or parts.port or 7441
    return urlunsplit(("rtsps", f"{netloc_host}:{chosen}", parts.path, query, ""))
