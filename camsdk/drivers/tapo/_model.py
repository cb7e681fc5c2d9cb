"""What a Tapo camera's local API says, read defensively into plain dataclasses.

Every answer is hostile until read: a field may be missing, of another type
(firmware 1.3 sends ``"features": "3"``, 1.4 sends ``3``; 1.3 adds ``.name``
and ``.type`` keys to every section), or absurdly large. The readers never
raise on a strange value; they fall back to a default and let the caller
decide what a missing piece means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from camsdk.driver import json_array, json_float, json_int, json_object, json_text

__all__ = [
    "DeviceIdentity",
    "MotorRange",
    "Preset",
    "VideoQuality",
    "read_components",
    "read_identity",
    "read_lens_mask",
    "read_motor_range",
    "read_presets",
    "read_video_quality",
]

#: Longest text kept from any device field.
#: Most presets read (Tapo cameras keep 8 to 16).
MAX_PRESETS = 64
#: Most components read from getAppComponentList (real lists have about 40).
MAX_COMPONENTS = 256
_RESOLUTION = re.compile(r"^\s*(\d{2,5})\s*[*xX]\s*(\d{2,5})\s*$")


def on_off(value: Any) -> bool | None:
    """``"on"``/``"off"`` (and their kin) as a bool; None when it is neither."""
    text = json_text(value).lower()
    if text in ("on", "1", "true", "enabled"):
        return True
    if text in ("off", "0", "false", "disabled"):
        return False
    return None


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """``getDeviceInfo`` ``basic_info``."""

    model: str = ""
    name: str = ""
    firmware: str = ""
    hardware: str = ""
    device_id: str = ""
    mac: str = ""
    device_type: str = ""
    region: str = ""
    #: The RTSP port when the answer names one (not seen on known firmware).
    rtsp_port: int | None = None


def _mac(text: str) -> str:
    digits = re.sub(r"[^0-9A-Fa-f]", "", text)
    if len(digits) != 12:
        return ""
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2)).upper()


def read_identity(result: Any) -> DeviceIdentity:
    """The identity in a ``getDeviceInfo`` result."""
    basic = json_object(json_object(json_object(result).get("device_info")).get("basic_info"))
    port = json_int(basic.get("rtsp_port"), 0)
    device_id = json_text(basic.get("dev_id"))
    return DeviceIdentity(
        model=json_text(basic.get("device_model")),
        name=json_text(basic.get("device_alias")) or json_text(basic.get("device_name")),
        firmware=json_text(basic.get("sw_version")),
        hardware=json_text(basic.get("hw_version")),
        device_id=device_id if re.fullmatch(r"[0-9A-Fa-f]{8,64}", device_id) else "",
        mac=_mac(json_text(basic.get("mac"))),
        device_type=json_text(basic.get("device_type")),
        region=json_text(basic.get("region")),
        rtsp_port=port if 0 < port < 65536 else None,
    )


def read_components(result: Any) -> frozenset[str]:
    """Component names of a ``getAppComponentList`` result (what the firmware offers)."""
    components = json_object(json_object(result).get("app_component"))
    items = json_array(components.get("app_component_list"))
    names = {json_text(json_object(item).get("name")) for item in items[:MAX_COMPONENTS]}
    names.discard("")
    return frozenset(names)


def read_lens_mask(result: Any) -> bool | None:
    """Whether the lens mask (privacy mode) is on, from ``getLensMaskConfig``; None: unknown."""
    info = json_object(json_object(json_object(result).get("lens_mask")).get("lens_mask_info"))
    return on_off(info.get("enabled"))


@dataclass(frozen=True, slots=True)
class VideoQuality:
    """The main stream's encoding from ``getVideoQualities``."""

    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None


def frame_rate(value: Any) -> float | None:
    """Tapo's frame rate: ``65536 + fps`` ("65551" is 15 fps), or plain fps on some models."""
    number = json_int(value, 0)
    fps = number & 0xFFFF if number >= 0x10000 else number
    return float(fps) if 0 < fps <= 240 else None


def read_video_quality(result: Any, stream: str = "main") -> VideoQuality:
    """One stream's encoding (``main``) from a ``getVideoQualities`` result."""
    entry = json_object(json_object(json_object(result).get("video")).get(stream))
    match = _RESOLUTION.match(json_text(entry.get("resolution")))
    width = height = None
    if match is not None:
        w, h = int(match.group(1)), int(match.group(2))
        if 16 <= w <= 16384 and 16 <= h <= 16384:
            width, height = w, h
    codec = json_text(entry.get("encode_type")).lower()
    bitrate = json_int(entry.get("bitrate"), 0)
    return VideoQuality(
        codec={"h264": "h264", "h265": "h265", "hevc": "h265"}.get(codec),
        width=width, height=height, fps=frame_rate(entry.get("frame_rate")),
        bitrate=bitrate * 1000 if 0 < bitrate < 10**6 else None,
    )


@dataclass(frozen=True, slots=True)
class MotorRange:
    """The motor's reach from ``motor.capability`` (degrees, Tapo's own coordinates)."""

    x_min: int = -170
    x_max: int = 170
    y_min: int = -35
    y_max: int = 35
    presets: bool = True
    #: The motor refuses to move while the lens mask is on.
    still_when_masked: bool = True


def read_motor_range(answer: Any) -> MotorRange:
    """The motor capability from a ``{"method": "get", "motor": ...}`` answer."""
    cap = json_object(json_object(json_object(answer).get("motor")).get("capability"))
    default = MotorRange()

    def bound(name: str, fallback: int) -> int:
        value = json_int(cap.get(name), fallback)
        return value if -360 <= value <= 360 else fallback

    x_min, x_max = bound("x_coord_min", default.x_min), bound("x_coord_max", default.x_max)
    y_min, y_max = bound("y_coord_min", default.y_min), bound("y_coord_max", default.y_max)
    if x_min >= x_max:
        x_min, x_max = default.x_min, default.x_max
    if y_min >= y_max:
        y_min, y_max = default.y_min, default.y_max
    return MotorRange(
        x_min=x_min, x_max=x_max, y_min=y_min, y_max=y_max,
        presets=on_off(cap.get("preset")) is not False,
        still_when_masked=on_off(cap.get("lens_mask_no_moving")) is not False,
    )


@dataclass(frozen=True, slots=True)
class Preset:
    """One stored position; ``pan``/``tilt`` are the device's values when it reports them."""

    id: str
    name: str
    pan: float | None = None
    tilt: float | None = None
    read_only: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)


def read_presets(result: Any) -> list[Preset]:
    """Presets of a ``getPresetConfig`` result (parallel arrays ``id``, ``name`` ...)."""
    table = json_object(json_object(json_object(result).get("preset")).get("preset"))
    ids = json_array(table.get("id"))[:MAX_PRESETS]
    names = json_array(table.get("name"))
    pans = json_array(table.get("position_pan"))
    tilts = json_array(table.get("position_tilt"))
    read_only = json_array(table.get("read_only"))
    found = []
    for index, raw in enumerate(ids):
        preset_id = json_text(raw)
        if not preset_id or len(preset_id) > 16:
            continue
        found.append(Preset(
            id=preset_id,
            name=json_text(names[index]) if index < len(names) else "",
            pan=json_float(pans[index]) if index < len(pans) else None,
            tilt=json_float(tilts[index]) if index < len(tilts) else None,
            read_only=on_off(read_only[index]) is True if index < len(read_only) else False,
        ))
    return found
