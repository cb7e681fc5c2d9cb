"""ISAPI documents read into plain values: identity, channels, streams, ports, statuses.

ISAPI answers are XML in one of several namespaces
(``http://www.hikvision.com/ver10/XMLSchema``, ``.../ver20/...``,
``http://www.std-cgi.com/ver20/XMLSchema`` on OEM firmware,
``http://www.isapi.org/ver20/XMLSchema``), so everything is read by local
name with the kit's hardened parser. Missing elements give empty values:
older firmware leaves out what it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from camsdk.driver import xml as x

__all__ = [
    "DeviceIdentity",
    "InputChannel",
    "ResponseStatus",
    "StreamChannel",
    "UserCheck",
    "parse_identity",
    "parse_input_channels",
    "parse_proxy_channels",
    "parse_proxy_status",
    "parse_response_status",
    "parse_rtsp_port",
    "parse_stream_channels",
    "parse_user_check",
]

#: ``videoCodecType`` -> FFmpeg's codec name.
_CODECS = {
    "h.264": "h264", "h264": "h264", "h.265": "hevc", "h265": "hevc", "hevc": "hevc",
    "mjpeg": "mjpeg", "mpeg4": "mpeg4", "svac": "svac", "smarth264": "h264",
    "smarth265": "hevc",
}
#: ``audioCompressionType`` -> FFmpeg's codec name.
AUDIO_CODECS = {
    "g.711ulaw": "pcm_mulaw", "g.711alaw": "pcm_alaw", "g.726": "adpcm_g726",
    "g.722.1": "g722", "aac": "aac", "mp2l2": "mp2", "pcm": "pcm_s16le", "mp3": "mp3",
    "opus": "opus",
}
#: Device types that list their cameras as proxy channels (NVRs, hybrid DVRs).
RECORDER_TYPES = frozenset({"nvr", "dvr", "hvr", "hybridnvr", "dvs", "ipnvr"})


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """``/ISAPI/System/deviceInfo``."""

    name: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""
    firmware_date: str = ""
    mac: str = ""
    device_type: str = ""
    device_id: str = ""

    @property
    def recorder(self) -> bool:
        """Whether the device is an NVR/DVR (channels are proxies of other cameras)."""
        return self.device_type.replace(" ", "").lower() in RECORDER_TYPES


@dataclass(frozen=True, slots=True)
class StreamChannel:
    """One ``StreamingChannel`` (id ``<channel><nn>``: 101 main, 102 sub, 103 third)."""

    id: int
    name: str = ""
    enabled: bool = True
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None
    audio_codec: str | None = None
    proxy: bool = False

    @property
    def channel(self) -> int:
        """The video channel this stream belongs to."""
        return self.id // 100

    @property
    def number(self) -> int:
        """1 main, 2 sub, 3 third ..."""
        return self.id % 100


@dataclass(frozen=True, slots=True)
class InputChannel:
    """A video channel: a sensor of the device or a camera an NVR proxies."""

    id: int
    name: str = ""
    enabled: bool = True
    proxy: bool = False
    online: bool | None = None
    detail: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class ResponseStatus:
    """``ResponseStatus``: the answer to a PUT/POST, or an error instead of data."""

    code: int
    text: str = ""
    sub_code: str = ""
    url: str = ""

    @property
    def ok(self) -> bool:
        """``statusCode`` 1 (OK)."""
        return self.code == 1


@dataclass(frozen=True, slots=True)
class UserCheck:
    """``userCheck``: what firmware says beside a 401 (the account's lock state)."""

    locked: bool
    unlock_seconds: int | None = None
    retries_left: int | None = None


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _bool(text: str, default: bool = True) -> bool:
    value = x.parse_bool(text)
    return default if value is None else value


def parse_identity(root: Element) -> DeviceIdentity:
    """``DeviceInfo`` -> `DeviceIdentity`."""
    return DeviceIdentity(
        name=x.text(root, "deviceName"),
        model=x.text(root, "model"),
        serial=x.text(root, "serialNumber"),
        firmware=x.text(root, "firmwareVersion"),
        firmware_date=x.text(root, "firmwareReleasedDate"),
        mac=x.text(root, "macAddress").lower(),
        device_type=x.text(root, "deviceType"),
        device_id=x.text(root, "deviceID"),
    )


def _fps(text: str) -> float | None:
    """``maxFrameRate`` is in hundredths (2500 = 25 fps); a few firmware write plain fps."""
    value = _int(text)
    if value is None or value <= 0:
        return None
    return value / 100.0 if value >= 100 else float(value)


def parse_stream_channels(root: Element, *, proxy: bool = False) -> list[StreamChannel]:
    """``StreamingChannelList`` -> its channels (ids that are not numbers are skipped)."""
    found: list[StreamChannel] = []
    for node in x.iter_named(root, "StreamingChannel"):
        sid = _int(x.text(node, "id"))
        if sid is None or sid < 100:
            continue
        video = x.find(node, "Video")
        audio = x.find(node, "Audio")
        codec_text = x.text(video, "videoCodecType").lower()
        audio_on = audio is not None and _bool(x.text(audio, "enabled"), False)
        audio_text = x.text(audio, "audioCompressionType").lower()
        kbps = _int(x.text(video, "vbrUpperCap")) or _int(x.text(video, "constantBitRate"))
        found.append(
            StreamChannel(
                id=sid,
                name=x.text(node, "channelName"),
                enabled=_bool(x.text(node, "enabled")) and _bool(x.text(video, "enabled")),
                codec=_CODECS.get(codec_text.replace(" ", ""), codec_text or None),
                width=_int(x.text(video, "videoResolutionWidth")),
                height=_int(x.text(video, "videoResolutionHeight")),
                fps=_fps(x.text(video, "maxFrameRate")),
                bitrate=kbps * 1000 if kbps else None,
                audio_codec=AUDIO_CODECS.get(audio_text, audio_text or None) if audio_on else None,
                proxy=proxy,
            )
        )
    return found


def parse_input_channels(root: Element) -> list[InputChannel]:
    """``VideoInputChannelList`` -> the device's own video inputs."""
    found: list[InputChannel] = []
    for node in x.iter_named(root, "VideoInputChannel"):
        cid = _int(x.text(node, "id"))
        if cid is None:
            continue
        signal = x.text(node, "resDesc")
        no_video = signal.strip().upper() == "NO VIDEO"
        found.append(
            InputChannel(
                id=cid,
                name=x.text(node, "name"),
                enabled=_bool(x.text(node, "videoInputEnabled")),
                online=False if no_video else None,
                detail="no video signal" if no_video else "",
            )
        )
    return found


def parse_proxy_channels(root: Element) -> list[InputChannel]:
    """``InputProxyChannelList`` -> the cameras an NVR proxies (online state unknown yet)."""
    found: list[InputChannel] = []
    for node in x.iter_named(root, "InputProxyChannel"):
        cid = _int(x.text(node, "id"))
        if cid is None:
            continue
        port = x.find(node, "sourceInputPortDescriptor")
        found.append(
            InputChannel(id=cid, name=x.text(node, "name"), proxy=True,
                         address=x.text(port, "ipAddress") or x.text(port, "hostName"))
        )
    return found


def parse_proxy_status(root: Element) -> dict[int, tuple[bool, str]]:
    """``InputProxyChannelStatusList`` -> channel id -> (online, detection result)."""
    found: dict[int, tuple[bool, str]] = {}
    for node in x.iter_named(root, "InputProxyChannelStatus"):
        cid = _int(x.text(node, "id"))
        if cid is None:
            continue
        online = _bool(x.text(node, "online"), False)
        found[cid] = (online, x.text(node, "chanDetectResult"))
    return found


def parse_rtsp_port(root: Element) -> int | None:
    """The RTSP port from ``AdminAccessProtocolList`` (None when it lists none)."""
    for node in x.iter_named(root, "AdminAccessProtocol"):
        if x.text(node, "protocol").upper() == "RTSP" and _bool(x.text(node, "enabled")):
            port = _int(x.text(node, "portNo"))
            if port is not None and 0 < port < 65536:
                return port
    return None


def parse_response_status(root: Element) -> ResponseStatus | None:
    """A ``ResponseStatus`` document (None for any other document)."""
    if x.local(root.tag) != "ResponseStatus":
        return None
    return ResponseStatus(
        code=_int(x.text(root, "statusCode")) or 0,
        text=x.text(root, "statusString")[:200],
        sub_code=x.text(root, "subStatusCode")[:100],
        url=x.text(root, "requestURL")[:200],
    )


def parse_user_check(root: Element) -> UserCheck | None:
    """A ``userCheck`` document (None for any other document)."""
    if x.local(root.tag) != "userCheck":
        return None
    unlock = _int(x.text(root, "unlockTime"))
    retries = _int(x.text(root, "retryLoginTime"))
    return UserCheck(
        locked=x.text(root, "lockStatus").lower() == "lock",
        unlock_seconds=unlock if unlock is not None and unlock >= 0 else None,
        retries_left=retries if retries is not None and retries >= 0 else None,
    )
