"""What a Dahua device says about itself: identity, channels, stream formats, ports.

`load_device` reads, in order and one request at a time (embedded web
servers serve few requests at once):

- identity: ``magicBox.cgi?action=getDeviceType | getSerialNo |
  getSoftwareVersion | getMachineName`` (and, where offered, ``getVendor``,
  ``getDeviceClass``), the MAC from ``configManager ... name=Network``;
- channels: ``name=ChannelTitle`` (the device's own channel names) and
  ``name=Encode`` (per channel ``MainFormat[0]``, ``ExtraFormat[0]``,
  ``ExtraFormat[1]``: compression, size, frame rate, audio);
- the RTSP port from ``name=RTSP`` (never assumed to be 554);
- on multi-channel devices (NVR, XVR), each channel's connection state from
  ``LogicDeviceManager.cgi?action=getCameraState``, whose ``channel`` field
  counts from 0 while the CGI's ``channel=`` parameters count from 1.

Everything after the device type is optional: firmware that lacks a CGI, or
an account without the right to read a table, leaves that part unknown.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field

from camsdk.driver import CameraProtocolError, get_logger

from ._api import DahuaApi
from ._text import indexed, parse_bool, parse_float, parse_int, section

__all__ = [
    "ChannelInfo",
    "DeviceInfo",
    "StreamFormat",
    "audio_codec",
    "load_device",
    "parse_channels",
    "video_codec",
]

log = get_logger("camsdk.dahua")

#: Channels read at most (the largest NVRs have 256).
MAX_CHANNELS = 256
#: Profile name, Encode table entry, RTSP ``subtype``.
PROFILE_SLOTS = (("main", "MainFormat[0]", 0), ("sub", "ExtraFormat[0]", 1),
                 ("third", "ExtraFormat[1]", 2))
_NAMED_SIZES = {
    "QCIF": (176, 144), "CIF": (352, 288), "HD1": (352, 576), "D1": (704, 576),
    "960H": (960, 576), "VGA": (640, 480), "QVGA": (320, 240), "SVGA": (800, 600),
    "720P": (1280, 720), "960P": (1280, 960), "1_3M": (1280, 960), "1080P": (1920, 1080),
    "1080N": (960, 1080), "720N": (640, 720), "3M": (2048, 1536), "4M": (2688, 1520),
    "5M": (2592, 1944), "6M": (3072, 2048), "8M": (3840, 2160), "4K": (3840, 2160),
}
_VIDEO_CODECS = {"h.264": "h264", "h.265": "hevc", "mjpg": "mjpeg", "mjpeg": "mjpeg"}
_AUDIO_CODECS = {
    "g.711a": "pcm_alaw", "g.711mu": "pcm_mulaw", "g.711u": "pcm_mulaw", "aac": "aac",
    "g.726": "adpcm_g726", "pcm": "pcm_s16le", "g.722": "g722", "mpeg2": "mp2",
}


def video_codec(compression: str) -> str | None:
    """FFmpeg's name for a Dahua ``Compression`` value (``H.264H`` -> ``h264``)."""
    folded = compression.strip().lower()
    if not folded:
        return None
    for prefix, codec in _VIDEO_CODECS.items():
        if folded.startswith(prefix):
            return codec
    return folded[:32]


def audio_codec(compression: str) -> str | None:
    """FFmpeg's name for a Dahua audio ``Compression`` value (``G.711A`` -> ``pcm_alaw``)."""
    folded = compression.strip().lower()
    if not folded:
        return None
    return _AUDIO_CODECS.get(folded, folded[:32])


def _size(video: dict[str, str]) -> tuple[int | None, int | None]:
    width, height = parse_int(video.get("Width")), parse_int(video.get("Height"))
    if width and height:
        return width, height
    named = video.get("resolution", video.get("Resolution", "")).strip()
    if "x" in named.lower():
        left, _, right = named.lower().partition("x")
        w, h = parse_int(left), parse_int(right)
        if w and h:
            return w, h
    return _NAMED_SIZES.get(named.upper(), (None, None))


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """One stream of a channel as the Encode table describes it."""

    name: str
    subtype: int
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None
    enabled: bool = True
    audio_codec: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One video channel (1-based ``number``, as the CGI counts)."""

    number: int
    title: str = ""
    formats: tuple[StreamFormat, ...] = ()
    #: False when the NVR reports the channel disconnected, or its main stream is off.
    online: bool = True
    reason: str = ""

    @property
    def main_enabled(self) -> bool:
        """Whether the device streams this channel's main format."""
        return any(f.subtype == 0 and f.enabled for f in self.formats) or not self.formats


@dataclass(slots=True)
class DeviceInfo:
    """The device, as read by `load_device`."""

    model: str = ""
    serial: str = ""
    firmware: str = ""
    name: str = ""
    vendor: str = "Dahua"
    mac: str = ""
    device_class: str = ""
    rtsp_port: int | None = None
    channels: dict[int, ChannelInfo] = field(default_factory=dict)

    @property
    def multi_channel(self) -> bool:
        """Whether this is a recorder (NVR/XVR/DVR) or another multi-channel device."""
        cls = self.device_class.upper()
        return len(self.channels) > 1 or any(k in cls for k in ("NVR", "DVR", "XVR", "HCVR"))

    @property
    def doorbell(self) -> bool:
        """Whether this is a VTO door station (doorbell)."""
        return self.device_class.upper().startswith("VTO") or self.model.upper().startswith(
            ("VTO", "DB", "AD")
        )


def _format(entry: dict[str, str], name: str, subtype: int) -> StreamFormat | None:
    video = section(entry, "Video")
    compression = video.get("Compression", "")
    if not compression and not video:
        return None
    width, height = _size(video)
    enabled = parse_bool(entry.get("VideoEnable"))
    audio = section(entry, "Audio")
    has_audio = parse_bool(entry.get("AudioEnable")) is True
    return StreamFormat(
        name=name,
        subtype=subtype,
        codec=video_codec(compression),
        width=width,
        height=height,
        fps=parse_float(video.get("FPS")),
        bitrate=(parse_int(video.get("BitRate")) or 0) * 1000 or None,
        enabled=enabled is not False,
        audio_codec=audio_codec(audio.get("Compression", "")) if has_audio else None,
    )


def parse_channels(
    titles: dict[str, str], encode: dict[str, str], states: dict[str, str] | None = None
) -> dict[int, ChannelInfo]:
    """Channels (1-based) from the ChannelTitle, Encode and camera-state answers."""
    names = {i: v.get("Name", "") for i, v in indexed(titles, "ChannelTitle").items()}
    formats: dict[int, list[StreamFormat]] = {}
    for index, entry in indexed(encode, "Encode").items():
        for name, slot, subtype in PROFILE_SLOTS:
            found = _format(section(entry, slot), name, subtype)
            if found is not None and (subtype == 0 or found.enabled):
                formats.setdefault(index, []).append(found)
    connected: dict[int, str] = {}
    for entry in indexed(states or {}, "states").values():
        channel = parse_int(entry.get("channel"))
        if channel is not None and 0 <= channel < MAX_CHANNELS:
            connected[channel] = entry.get("connectionState", "")
    indexes = sorted({*names, *formats} & set(range(MAX_CHANNELS))) or [0]
    channels: dict[int, ChannelInfo] = {}
    for index in indexes:
        online, reason = True, ""
        state = connected.get(index)
        if state is not None and state.lower() not in ("connected", "connecting"):
            online, reason = False, f"the recorder reports the channel {state or 'down'}"
        listed = ChannelInfo(index + 1, names.get(index, "")[:128],
                            tuple(formats.get(index, ())), online, reason)
        if online and not listed.main_enabled:
            listed = ChannelInfo(listed.number, listed.title, listed.formats, False,
                                "the device's encode config disables the main stream")
        channels[index + 1] = listed
    return channels


async def _optional(
    api: DahuaApi, what: str, reader: Awaitable[dict[str, str]]
) -> dict[str, str]:
    """An optional read: firmware without it, or an error body, leaves it unknown."""
    try:
        return await reader
    except CameraProtocolError as exc:
        log.debug("%s: %s not available (%s)", api.shown, what, exc)
        return {}


async def load_device(api: DahuaApi) -> DeviceInfo:
    """Read identity, channels, formats and ports (see the module docstring)."""
    info = DeviceInfo()
    info.model = (await api.magic("getDeviceType")).get("type", "")[:128]
    serial = await _optional(api, "serial", api.magic("getSerialNo"))
    info.serial = serial.get("sn", "")[:128]
    version = await _optional(api, "firmware", api.magic("getSoftwareVersion"))
    info.firmware = version.get("version", "")[:128]
    name = await _optional(api, "name", api.magic("getMachineName"))
    info.name = name.get("name", "")[:128]
    vendor = await _optional(api, "vendor", api.magic("getVendor"))
    info.vendor = vendor.get("vendor", "")[:64] or "Dahua"
    kind = await _optional(api, "device class", api.magic("getDeviceClass"))
    info.device_class = kind.get("class", "")[:32]
    network = await _optional(api, "network", api.config("Network"))
    iface = network.get("Network.DefaultInterface", "eth0")
    info.mac = network.get(f"Network.{iface}.PhysicalAddress", "")[:32]
    rtsp = await _optional(api, "RTSP config", api.config("RTSP"))
    port = parse_int(rtsp.get("RTSP.Port"))
    info.rtsp_port = port if port is not None and 0 < port < 65536 else None
    titles = await _optional(api, "channel titles", api.config("ChannelTitle"))
    encode = await _optional(api, "encode config", api.config("Encode"))
    channels = parse_channels(titles, encode)
    info.channels = channels
    if info.multi_channel:
        info.channels = parse_channels(titles, encode, await camera_states(api))
    return info


async def camera_states(api: DahuaApi) -> dict[str, str]:
    """A recorder's channel connection states (empty where the firmware has none)."""
    try:
        return await api.cgi(
            "/cgi-bin/LogicDeviceManager.cgi",
            {"action": "getCameraState", "uniqueChannels[0]": "-1"},
            action="getCameraState",
        )
    except CameraProtocolError as exc:
        log.debug("%s: no camera states (%s)", api.shown, exc)
        return {}
