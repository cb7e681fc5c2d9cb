"""ISAPI documents the simulated Hikvision device answers with (firmware-shaped XML)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

__all__ = [
    "NS_V10",
    "NS_V20",
    "SimChannel",
    "admin_accesses",
    "alert",
    "device_info",
    "input_channels",
    "presets",
    "proxy_channels",
    "proxy_status",
    "ptz_capabilities",
    "ptz_status",
    "response_status",
    "streaming_channels",
    "two_way_audio",
    "user_check",
]

NS_V10 = "http://www.hikvision.com/ver10/XMLSchema"
NS_V20 = "http://www.hikvision.com/ver20/XMLSchema"
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(slots=True)
class SimChannel:
    """One simulated channel: its name, whether it answers, its stream sizes."""

    id: int
    name: str
    online: bool = True
    detect: str = "connect"
    address: str = ""


def _doc(tag: str, ns: str, body: str) -> str:
    return f'{_HEAD}<{tag} version="2.0" xmlns="{ns}">{body}</{tag}>'


def device_info(ns: str, *, name: str, model: str, serial: str, firmware: str,
                firmware_date: str, mac: str, device_type: str) -> str:
    """``DeviceInfo``."""
    return _doc("DeviceInfo", ns, (
        f"<deviceName>{escape(name)}</deviceName><deviceID>{escape(serial)}-id</deviceID>"
        f"<model>{escape(model)}</model><serialNumber>{escape(serial)}</serialNumber>"
        f"<macAddress>{mac}</macAddress><firmwareVersion>{escape(firmware)}</firmwareVersion>"
        f"<firmwareReleasedDate>{escape(firmware_date)}</firmwareReleasedDate>"
        f"<encoderVersion>V7.3</encoderVersion><deviceType>{device_type}</deviceType>"
        "<telecontrolID>88</telecontrolID>"
    ))


def _stream(sid: int, name: str, width: int, height: int, fps: int, codec: str,
            audio: str | None, tag: str = "StreamingChannel") -> str:
    audio_xml = (
        f"<Audio><enabled>true</enabled><audioInputChannelID>{sid // 100}</audioInputChannelID>"
        f"<audioCompressionType>{audio}</audioCompressionType></Audio>"
        if audio else "<Audio><enabled>false</enabled></Audio>"
    )
    return (
        f"<{tag}><id>{sid}</id><channelName>{escape(name)}</channelName>"
        "<enabled>true</enabled><Transport><ControlProtocolList><ControlProtocol>"
        "<streamingTransport>RTSP</streamingTransport></ControlProtocol></ControlProtocolList>"
        "</Transport>"
        f"<Video><enabled>true</enabled><videoInputChannelID>{sid // 100}</videoInputChannelID>"
        f"<videoCodecType>{codec}</videoCodecType><videoScanType>progressive</videoScanType>"
        f"<videoResolutionWidth>{width}</videoResolutionWidth>"
        f"<videoResolutionHeight>{height}</videoResolutionHeight>"
        "<videoQualityControlType>VBR</videoQualityControlType>"
        "<fixedQuality>60</fixedQuality><vbrUpperCap>2048</vbrUpperCap>"
        f"<maxFrameRate>{fps * 100}</maxFrameRate><GovLength>{fps}</GovLength></Video>"
        f"{audio_xml}</{tag}>"
    )


def streaming_channels(ns: str, channels: Iterable[SimChannel], *, width: int, height: int,
                       fps: int, codec: str, audio: str | None, third: bool = False,
                       proxy: bool = False) -> str:
    """``StreamingChannelList``: main and sub (and third) per channel."""
    body = []
    for channel in channels:
        numbers = (1, 2, 3) if third else (1, 2)
        for number in numbers:
            body.append(_stream(channel.id * 100 + number, channel.name, width, height, fps,
                                codec, audio if number == 1 else None))
    tag = "StreamingChannelList"
    return _doc(tag, ns, "".join(body))


def input_channels(ns: str, channels: Iterable[SimChannel]) -> str:
    """``VideoInputChannelList`` (a camera's sensors, a DVR's analog inputs)."""
    body = "".join(
        f"<VideoInputChannel><id>{c.id}</id><inputPort>{c.id}</inputPort>"
        f"<videoInputEnabled>true</videoInputEnabled><name>{escape(c.name)}</name>"
        f"<videoFormat>PAL</videoFormat><resDesc>{'1920*1080P25' if c.online else 'NO VIDEO'}"
        "</resDesc></VideoInputChannel>"
        for c in channels
    )
    return _doc("VideoInputChannelList", ns, body)


def proxy_channels(ns: str, channels: Iterable[SimChannel]) -> str:
    """``InputProxyChannelList``: the cameras an NVR proxies."""
    body = "".join(
        f"<InputProxyChannel><id>{c.id}</id><name>{escape(c.name)}</name>"
        "<sourceInputPortDescriptor><proxyProtocol>HIKVISION</proxyProtocol>"
        "<addressingFormatType>ipaddress</addressingFormatType>"
        f"<ipAddress>{c.address}</ipAddress><managePortNo>8000</managePortNo>"
        "<srcInputPort>1</srcInputPort><userName>admin</userName><streamType>auto</streamType>"
        "</sourceInputPortDescriptor><enableAnr>false</enableAnr></InputProxyChannel>"
        for c in channels
    )
    return _doc("InputProxyChannelList", ns, body)


def proxy_status(ns: str, channels: Iterable[SimChannel]) -> str:
    """``InputProxyChannelStatusList``: online state per proxied camera."""
    body = "".join(
        f"<InputProxyChannelStatus><id>{c.id}</id><sourceInputPortDescriptor>"
        f"<proxyProtocol>HIKVISION</proxyProtocol><ipAddress>{c.address}</ipAddress>"
        f"</sourceInputPortDescriptor><online>{'true' if c.online else 'false'}</online>"
        f"<chanDetectResult>{c.detect}</chanDetectResult></InputProxyChannelStatus>"
        for c in channels
    )
    return _doc("InputProxyChannelStatusList", ns, body)


def admin_accesses(ns: str, *, http_port: int, rtsp_port: int) -> str:
    """``AdminAccessProtocolList`` with the real ports."""
    rows = [("HTTP", http_port), ("HTTPS", 443), ("DEV_MANAGE", 8000), ("RTSP", rtsp_port),
            ("WebSocket", 7681)]
    body = "".join(
        f"<AdminAccessProtocol><id>{i}</id><enabled>true</enabled><protocol>{p}</protocol>"
        f"<portNo>{port}</portNo></AdminAccessProtocol>"
        for i, (p, port) in enumerate(rows, start=1)
    )
    return _doc("AdminAccessProtocolList", ns, body)


def response_status(ns: str, url: str, code: int, text: str, sub: str) -> str:
    """``ResponseStatus``."""
    return _doc("ResponseStatus", ns, (
        f"<requestURL>{escape(url)}</requestURL><statusCode>{code}</statusCode>"
        f"<statusString>{escape(text)}</statusString><subStatusCode>{sub}</subStatusCode>"
    ))


def user_check(ns: str, *, locked: bool, unlock: int, retries: int) -> str:
    """``userCheck``, as firmware sends it beside a 401."""
    return _doc("userCheck", ns, (
        "<statusValue>401</statusValue><statusString>Unauthorized</statusString>"
        f"<isDefaultPassword>false</isDefaultPassword>"
        f"<lockStatus>{'lock' if locked else 'unlock'}</lockStatus>"
        f"<unlockTime>{unlock}</unlockTime><retryLoginTime>{retries}</retryLoginTime>"
    ))


def ptz_capabilities(ns: str) -> str:
    """``PTZChanelCap`` (sic: firmware's spelling) with the absolute ranges."""
    return _doc("PTZChanelCap", ns, (
        "<AbsolutePanTiltPositionSpace><XRange><Min>0</Min><Max>3600</Max></XRange>"
        "<YRange><Min>-900</Min><Max>900</Max></YRange></AbsolutePanTiltPositionSpace>"
        "<AbsoluteZoomSpace><ZRange><Min>10</Min><Max>320</Max></ZRange></AbsoluteZoomSpace>"
        "<ContinuousPanTiltSpace><XRange><Min>-100</Min><Max>100</Max></XRange>"
        "<YRange><Min>-100</Min><Max>100</Max></YRange></ContinuousPanTiltSpace>"
        "<maxPresetNum>300</maxPresetNum><isSupportPosition3D>true</isSupportPosition3D>"
    ))


def ptz_status(ns: str, azimuth: int, elevation: int, zoom: int) -> str:
    """``PTZStatus`` with ``AbsoluteHigh``."""
    return _doc("PTZStatus", ns, (
        f"<AbsoluteHigh><elevation>{elevation}</elevation><azimuth>{azimuth}</azimuth>"
        f"<absoluteZoom>{zoom}</absoluteZoom></AbsoluteHigh>"
    ))


def presets(ns: str, stored: Mapping[int, str], slots: int = 8) -> str:
    """``PTZPresetList``: every slot, only the stored ones enabled (as firmware lists them)."""
    body = "".join(
        f"<PTZPreset><id>{n}</id><presetName>{escape(stored.get(n, f'Preset {n}'))}"
        f"</presetName><enabled>{'true' if n in stored else 'false'}</enabled></PTZPreset>"
        for n in range(1, max(slots, *stored, 0) + 1)
    )
    return _doc("PTZPresetList", ns, body)


def two_way_audio(ns: str, codec: str) -> str:
    """``TwoWayAudioChannelList`` with one channel."""
    return _doc("TwoWayAudioChannelList", ns, (
        "<TwoWayAudioChannel><id>1</id><enabled>false</enabled>"
        f"<audioCompressionType>{codec}</audioCompressionType>"
        "<audioInputType>MicIn</audioInputType><speakerVolume>50</speakerVolume>"
        "<noisereduce>false</noisereduce></TwoWayAudioChannel>"
    ))


def alert(ns: str, *, event_type: str, active: bool, channel: int | None,
          dyn_channel: int | None = None, port: int | None = None, target: str | None = None,
          region: str | None = None, description: str = "", count: int = 1) -> str:
    """An ``EventNotificationAlert`` as the alert stream carries it."""
    now = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    parts = [
        "<ipAddress>127.0.0.1</ipAddress><portNo>80</portNo><protocol>HTTP</protocol>",
        "<macAddress>44:19:b6:00:00:01</macAddress>",
    ]
    if channel is not None:
        parts.append(f"<channelID>{channel}</channelID>")
    if dyn_channel is not None:
        parts.append(f"<dynChannelID>{dyn_channel}</dynChannelID>")
    if port is not None:
        parts.append(f"<inputIOPortID>{port}</inputIOPortID>")
    parts.append(
        f"<dateTime>{now}</dateTime><activePostCount>{count}</activePostCount>"
        f"<eventType>{escape(event_type)}</eventType>"
        f"<eventState>{'active' if active else 'inactive'}</eventState>"
        f"<eventDescription>{escape(description or event_type + ' alarm')}</eventDescription>"
    )
    if region is not None or target is not None:
        entry = f"<regionID>{escape(region or '1')}</regionID><sensitivityLevel>50"\
                "</sensitivityLevel>"
        if target is not None:
            entry += f"<detectionTarget>{escape(target)}</detectionTarget>"
        parts.append(f"<DetectionRegionList><DetectionRegionEntry>{entry}"
                     "</DetectionRegionEntry></DetectionRegionList>")
        if target is not None:
            parts.append(f"<targetType>{escape(target)}</targetType>")
    return _doc("EventNotificationAlert", ns, "".join(parts))
