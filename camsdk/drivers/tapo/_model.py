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

__all__ = [
    "DeviceIdentity",
    "MotorRange",
    "Preset",
    "VideoQuality",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "read_components",
    "read_identity",
    "read_lens_mask",
    "read_motor_range",
    "read_presets",
    "read_video_quality",
]

#: Longest text kept from any device field.
MAX_TEXT = 128
#: Most presets read (Tapo cameras keep 8 to 16).
MAX_PRESETS = 64
#: Most components read from getAppComponentList (real lists have about 40).
MAX_COMPONENTS = 256
_RESOLUTION = re.compile(r"^\s*(\d{2,5})\s*[*xX]\s*(\d{2,5})\s*$")


def as_dict(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_int(value: Any, default: int = 0) -> int:
    """An integer from a JSON number or numeric text; ``default`` otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -(2**53) < value < 2**53 else default
    if isinstance(value, float) and value == value and abs(value) < 2**53:
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 16:
        return int(value.strip())
    return default


def as_float(value: Any) -> float | None:
    """A finite float from a JSON number or numeric text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and 0 < len(value) < 32:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if number == number and abs(number) < 1e12 else None


def as_str(value: Any, default: str = "") -> str:
    """Printable text from a JSON string or number, capped at `MAX_TEXT` characters."""
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return default
    text = "".join(c for c in value[: MAX_TEXT * 4] if c.isprintable())
    return text.strip()[:MAX_TEXT]


def on_off(value: Any) -> bool | None:
    """``"on"``/``"off"`` (and their kin) as a bool; None when it is neither."""
    text = as_str(value).lower()
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
    basic = as_dict(as_dict(as_dict(result).get("device_info")).get("basic_info"))
    port = as_int(basic.get("rtsp_port"), 0)
    device_id = as_str(basic.get("dev_id"))
    return DeviceIdentity(
        model=as_str(basic.get("device_model")),
        name=as_str(basic.get("device_alias")) or as_str(basic.get("device_name")),
        firmware=as_str(basic.get("sw_version")),
        hardware=as_str(basic.get("hw_version")),
        device_id=device_id if re.fullmatch(r"[0-9A-Fa-f]{8,64}", device_id) else "",
        mac=_mac(as_str(basic.get("mac"))),
        device_type=as_str(basic.get("device_type")),
        region=as_str(basic.get("region")),
        rtsp_port=port if 0 < port < 65536 else None,
    )


def read_components(result: Any) -> frozenset[str]:
    """Component names of a ``getAppComponentList`` result (what the firmware offers)."""
    items = as_list(as_dict(as_dict(result).get("app_component")).get("app_component_list"))
    names = {as_str(as_dict(item).get("name")) for item in items[:MAX_COMPONENTS]}
    names.discard("")
    return frozenset(names)


def read_lens_mask(result: Any) -> bool | None:
    """Whether the lens mask (privacy mode) is on, from ``getLensMaskConfig``; None: unknown."""
    info = as_dict(as_dict(as_dict(result).get("lens_mask")).get("lens_mask_info"))
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
    number = as_int(value, 0)
    fps = number & 0xFFFF if number >= 0x10000 else number
    return float(fps) if 0 < fps <= 240 else None


def read_video_quality(result: Any, stream: str = "main") -> VideoQuality:
    """One stream's encoding (``main``) from a ``getVideoQualities`` result."""
    entry = as_dict(as_dict(as_dict(result).get("video")).get(stream))
    match = _RESOLUTION.match(as_str(entry.get("resolution")))
    width = height = None
    if match is not None:
        w, h = int(match.group(1)), int(match.group(2))
        if 16 <= w <= 16384 and 16 <= h <= 16384:
            width, height = w, h
    codec = as_str(entry.get("encode_type")).lower()
    bitrate = as_int(entry.get("bitrate"), 0)
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
    cap = as_dict(as_dict(as_dict(answer).get("motor")).get("capability"))
    default = MotorRange()

    def bound(name: str, fallback: int) -> int:
        value = as_int(cap.get(name), fallback)
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
    table = as_dict(as_dict(as_dict(result).get("preset")).get("preset"))
    ids = as_list(table.get("id"))[:MAX_PRESETS]
    names = as_list(table.get("name"))
    pans = as_list(table.get("position_pan"))
    tilts = as_list(table.get("position_tilt"))
    read_only = as_list(table.get("read_only"))
    found = []
    for index, raw in enumerate(ids):
        preset_id = as_str(raw)
        if not preset_id or len(preset_id) > 16:
            continue
        found.append(Preset(
            id=preset_id,
            name=as_str(names[index]) if index < len(names) else "",
            pan=as_float(pans[index]) if index < len(pans) else None,
            tilt=as_float(tilts[index]) if index < len(tilts) else None,
            read_only=on_off(read_only[index]) is True if index < len(read_only) else False,
        ))
    return found
