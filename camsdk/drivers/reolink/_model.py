"""What the Reolink JSON API says, read defensively into plain dataclasses.

Every answer is hostile until read: a field may be missing, of another type,
or absurdly large. The readers here never raise on a strange value; they
fall back to a default and let the caller decide what a missing piece means.
Field names follow the firmware (``firmVer``, ``channelNum``, ``rtspPort``,
``mainStream.size = "2560*1440"`` ...), including the variants older and
newer firmware use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from camsdk.driver import json_array, json_int, json_object, json_text

__all__ = [
    "Ability",
    "ChannelStatus",
    "DeviceInfo",
    "EncodedStream",
    "NetPorts",
    "read_ability",
    "read_ai_state",
    "read_channel_status",
    "read_device_info",
    "read_enc",
    "read_md_state",
    "read_net_ports",
    "read_rtsp_urls",
]

#: Most channels an NVR may report (the largest Reolink NVRs have 36).
MAX_CHANNELS = 256
NVR_TYPES = frozenset({"NVR", "WIFI_NVR", "HOMEHUB"})


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """``GetDevInfo``: who the device is."""

    model: str = ""
    serial: str = ""
    firmware: str = ""
    hardware: str = ""
    name: str = ""
    item: str = ""
    channels: int = 1
    device_type: str = "IPC"

    @property
    def is_nvr(self) -> bool:
        """An NVR or Home Hub (its channels are cameras behind it)."""
        return self.device_type.upper() in NVR_TYPES


def read_device_info(value: Any) -> DeviceInfo:
    """``value`` of a ``GetDevInfo`` answer."""
    info = json_object(json_object(value).get("DevInfo"))
    kind = json_text(info.get("exactType")) or json_text(info.get("type")) or "IPC"
    return DeviceInfo(
        model=json_text(info.get("model")),
        serial=json_text(info.get("serial")),
        # The field is ``firmVer``; some firmware documentation spells it ``firmwVer``.
        firmware=json_text(info.get("firmVer")) or json_text(info.get("firmwVer")),
        hardware=json_text(info.get("hardVer")),
        name=json_text(info.get("name")),
        item=json_text(info.get("itemNo")),
        channels=max(1, min(MAX_CHANNELS, json_int(info.get("channelNum"), 1))),
        device_type=kind.upper(),
    )


@dataclass(frozen=True, slots=True)
class NetPorts:
    """``GetNetPort``: where the device's services listen, and which are on."""

    http: int = 80
    https: int = 443
    rtsp: int = 554
    rtmp: int = 1935
    onvif: int = 8000
    rtsp_enabled: bool = True
    rtmp_enabled: bool = True
    onvif_enabled: bool = True
    known: bool = False


def _port(value: Any, default: int) -> int:
    port = json_int(value, default)
    return port if 1 <= port <= 65535 else default


def read_net_ports(value: Any) -> NetPorts:
    """``value`` of a ``GetNetPort`` answer (an empty one says nothing is known)."""
    ports = json_object(json_object(value).get("NetPort"))
    if not ports:
        return NetPorts()
    return NetPorts(
        http=_port(ports.get("httpPort"), 80),
        https=_port(ports.get("httpsPort"), 443),
        rtsp=_port(ports.get("rtspPort"), 554),
        rtmp=_port(ports.get("rtmpPort"), 1935),
        onvif=_port(ports.get("onvifPort"), 8000),
        # Older firmware has no enable flags: the service is on.
        rtsp_enabled=json_int(ports.get("rtspEnable"), 1) == 1,
        rtmp_enabled=json_int(ports.get("rtmpEnable"), 1) == 1,
        onvif_enabled=json_int(ports.get("onvifEnable"), 1) == 1,
        known=True,
    )


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One entry of ``GetChannelstatus`` (NVR / Home Hub channels)."""

    channel: int
    online: bool
    name: str = ""
    model: str = ""
    uid: str = ""
    #: ``None`` when the device does not say (mains-powered cameras).
    sleeping: bool | None = None


def read_channel_status(value: Any) -> list[ChannelStatus]:
    """``value`` of a ``GetChannelstatus`` answer, by channel, without duplicates."""
    found: dict[int, ChannelStatus] = {}
    for entry in json_array(json_object(value).get("status"))[:MAX_CHANNELS]:
        item = json_object(entry)
        channel = json_int(item.get("channel"), -1)
        if not 0 <= channel < MAX_CHANNELS or channel in found:
            continue
        name = json_text(item.get("name"))
        sleep = item.get("sleep")
        found[channel] = ChannelStatus(
            channel=channel,
            online=json_int(item.get("online")) == 1,
            # Some firmware fills an unnamed channel's name with "0"/"1".
            name="" if name in ("0", "1") else name,
            model=json_text(item.get("typeInfo")),
            uid=json_text(item.get("uid")),
            sleeping=None if sleep is None else json_int(sleep) == 1,
        )
    return [found[c] for c in sorted(found)]


@dataclass(frozen=True, slots=True)
class EncodedStream:
    """One stream of ``GetEnc`` (``mainStream``, ``subStream``, ``extStream``)."""

    profile: str
    codec: str = "h264"
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None  # bits per second


_STREAM_KEYS = (("main", "mainStream"), ("sub", "subStream"), ("ext", "extStream"))


def _size(stream: Mapping[str, Any]) -> tuple[int | None, int | None]:
    width, height = json_int(stream.get("width")), json_int(stream.get("height"))
    if width <= 0 or height <= 0:
        # Older firmware only says ``size: "2560*1440"``.
        w, sep, h = json_text(stream.get("size")).replace("x", "*").partition("*")
        width, height = (json_int(w), json_int(h)) if sep else (0, 0)
    if not (0 < width <= 16384 and 0 < height <= 16384):
        return None, None
    return width, height


def read_enc(value: Any) -> tuple[list[EncodedStream], bool]:
    """The streams of a ``GetEnc`` answer and whether audio is on."""
    enc = json_object(json_object(value).get("Enc"))
    streams = []
    for profile, key in _STREAM_KEYS:
        stream = json_object(enc.get(key))
        if not stream:
            continue
        codec = json_text(stream.get("vType")).lower()
        # No vType: older firmware, which is H.264 only.
        codec = "h265" if codec in ("h265", "hevc") else "h264"
        width, height = _size(stream)
        fps = json_int(stream.get("frameRate"))
        kbps = json_int(stream.get("bitRate"))
        streams.append(
            EncodedStream(
                profile=profile,
                codec=codec,
                width=width,
                height=height,
                fps=float(fps) if 0 < fps <= 240 else None,
                bitrate=kbps * 1000 if 0 < kbps <= 200_000 else None,
            )
        )
    return streams, json_int(enc.get("audio")) == 1


def read_rtsp_urls(value: Any) -> dict[str, str]:
    """``GetRtspUrl`` (newer firmware): the device's own stream URLs by profile."""
    urls = json_object(json_object(value).get("rtspUrl"))
    found = {}
    for profile, key in _STREAM_KEYS:
        url = urls.get(key)
        if isinstance(url, str) and url.lower().startswith("rtsp://") and len(url) < 1024:
            found[profile] = url
    return found


@dataclass(frozen=True, slots=True)
class Ability:
    """What ``GetAbility`` says about one channel (``abilityChn``)."""

    ptz: bool = False
    presets: bool = False
    battery: bool = False
    ptz_position: bool = False


def _ver(table: Mapping[str, Any], name: str) -> int:
    return json_int(json_object(table.get(name)).get("ver"))


def read_ability(value: Any, channel: int) -> Ability | None:
    """The abilities of ``channel``; ``None`` when the device did not say."""
    ability = json_object(json_object(value).get("Ability"))
    chans = json_array(ability.get("abilityChn"))
    if not chans:
        return None
    # Dual-lens cameras list one entry for two stream channels.
    table = json_object(chans[channel] if channel < len(chans) else chans[0])
    ptz_type = _ver(table, "ptzType")
    ptz = _ver(table, "ptzCtrl") > 0 or ptz_type > 0
    return Ability(
        ptz=ptz,
        presets=ptz and _ver(table, "ptzPreset") > 0,
        battery=_ver(table, "battery") > 0,
        ptz_position=ptz and _ver(table, "ptzCurPos") > 0,
    )


def read_md_state(value: Any) -> bool | None:
    """``GetMdState``: motion now (``None`` if the answer says nothing)."""
    state = json_object(value).get("state")
    return None if state is None else json_int(state) == 1


def read_ai_state(value: Any) -> dict[str, bool]:
    """Supported AI types and their alarm state.

    Firmware from 3.0.0-494 on answers ``{"people": {"alarm_state": 1,
    "support": 1}}``; older firmware a bare ``{"people": 1}``. Types whose
    ``support`` is 0 are left out.
    """
    states: dict[str, bool] = {}
    for key, item in list(json_object(value).items())[:32]:
        if key == "channel" or not isinstance(key, str) or len(key) > 32:
            continue
        if isinstance(item, dict):
            if json_int(item.get("support")) != 1:
                continue
            states[key] = json_int(item.get("alarm_state")) == 1
        elif isinstance(item, int | bool):
            states[key] = int(item) == 1
    return states
