"""Ring's device list (``GET /clients_api/ring_devices``) as `RingDevice` records.

The answer groups devices by family: ``doorbots`` (doorbells the account
owns), ``authorized_doorbots`` (doorbells shared with it), ``stickup_cams``
(stick-up, floodlight, spotlight and indoor cams), ``chimes`` and
``other`` (intercoms, ``kind == "intercom_handset_audio"``, among other
things). A camera is keyed by family and id, because ids are only unique
within a family, and ids stay integers (or text) end to end: they exceed
2**53, where a float would silently change them. A record whose id is not an
integer is kept with ``problem`` set (listed as unusable), never rounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MODELS", "RingDevice", "device_id", "parse_devices", "parse_key"]

#: Ring's ``kind`` codes -> the model names its app shows (widely observed; extended as seen).
MODELS: Mapping[str, str] = {
    "doorbot": "Video Doorbell", "doorbell": "Video Doorbell", "doorbell_v3": "Video Doorbell",
    "doorbell_v4": "Video Doorbell 2", "doorbell_v5": "Video Doorbell 2",
    "doorbell_scallop_lite": "Video Doorbell 3", "doorbell_scallop": "Video Doorbell 3 Plus",
    "doorbell_oyster": "Video Doorbell 4", "doorbell_portal": "Peephole Cam",
    "doorbell_graham_cracker": "Video Doorbell Wired", "cocoa_doorbell": "Battery Doorbell",
    "cocoa_doorbell_v2": "Battery Doorbell Plus", "lpd_v1": "Video Doorbell Pro",
    "lpd_v2": "Video Doorbell Pro", "lpd_v3": "Video Doorbell Pro",
    "lpd_v4": "Video Doorbell Pro 2",
    "jbox_v1": "Video Doorbell Elite", "stickup_cam": "Stick Up Cam",
    "stickup_cam_v3": "Stick Up Cam", "stickup_cam_v4": "Spotlight Cam Battery",
    "stickup_cam_lunar": "Stick Up Cam Battery", "stickup_cam_elite": "Stick Up Cam Elite",
    "stickup_cam_wired": "Stick Up Cam Wired", "stickup_cam_mini": "Indoor Cam",
    "stickup_cam_mini_v2": "Indoor Cam (2nd gen)", "stickup_cam_longfin": "Spotlight Cam Pro",
    "cocoa_camera": "Stick Up Cam (3rd gen)", "cocoa_spotlight": "Spotlight Cam Plus",
    "cocoa_floodlight": "Floodlight Cam Plus", "hp_cam_v1": "Floodlight Cam",
    "hp_cam_v2": "Spotlight Cam Wired", "spotlightw_v2": "Spotlight Cam Wired",
    "floodlight_v2": "Floodlight Cam Wired", "floodlight_pro": "Floodlight Cam Pro",
    "intercom_handset_audio": "Intercom",
}

# answer key -> (family used in URLs and ids, shared)
_GROUPS: tuple[tuple[str, str, bool], ...] = (
    ("doorbots", "doorbot", False),
    ("authorized_doorbots", "doorbot", True),
    ("stickup_cams", "stickup_cam", False),
    ("other", "intercom", False),
)
_KEY = re.compile(r"^(doorbot|stickup_cam|intercom)-([0-9]{1,40})$")
_MAX_DEVICES = 1000


def device_id(value: object) -> int | None:
    """An id as an exact integer (JSON integer or digit text), else ``None`` (never a float)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) <= 40:
        return int(value)
    return None


def parse_key(text: str) -> tuple[str, int] | None:
    """``doorbot-123`` -> ``("doorbot", 123)``; ``None`` when it is not a device key."""
    found = _KEY.match(text)
    return (found.group(1), int(found.group(2))) if found else None


def _level(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    # Some devices report millivolts (4003) here: not a percentage.
    return int(number) if 0 <= number <= 100 else None


def _text(value: object, limit: int = 200) -> str:
    return str(value)[:limit] if isinstance(value, str | int | float) else ""


@dataclass(frozen=True, slots=True)
class RingDevice:
    """One camera-like device of the account (see the module docstring)."""

    family: str
    id: int | None
    name: str
    kind: str
    shared: bool = False
    firmware: str = ""
    location_id: str = ""
    address: str = ""
    device_id: str = ""
    battery_level: int | None = None
    battery_powered: bool = False
    online: bool = True
    e2ee: bool = False
    live_view_disabled: bool = False
    motion_detection_enabled: bool = True
    problem: str = ""
    raw_id: str = field(default="", repr=False)

    @property
    def key(self) -> str:
        """``<family>-<id>``: unique in the account (ids repeat across families)."""
        return f"{self.family}-{self.id if self.id is not None else self.raw_id}"

    @property
    def model(self) -> str:
        """The model name for the ``kind`` code (the code itself when unknown)."""
        return MODELS.get(self.kind, self.kind or "Ring device")

    @property
    def is_intercom(self) -> bool:
        """Intercoms stream and talk, but answer with the intercom's own event kinds."""
        return self.family == "intercom"


def _device(item: Mapping[str, Any], family: str, shared: bool) -> RingDevice:
    raw = item.get("id")
    ident = device_id(raw)
    settings = item.get("settings") if isinstance(item.get("settings"), Mapping) else {}
    assert isinstance(settings, Mapping)
    alerts = item.get("alerts") if isinstance(item.get("alerts"), Mapping) else {}
    assert isinstance(alerts, Mapping)
    levels = [v for v in (_level(item.get("battery_life")), _level(item.get("battery_life_2")))
              if v is not None]
    level = min(levels) if levels else None
    power_mode = settings.get("power_mode")
    if power_mode in ("battery", "wired"):  # battery cams can be wired and say so
        battery = power_mode == "battery"
    else:
        battery = level is not None and not bool(item.get("external_connection"))
    # Ring marks end-to-end encryption per device (push payloads carry ``e2ee_enabled``).
    e2ee = any(bool(source.get("e2ee_enabled")) for source in (item, settings))
    owned = item.get("owned")
    problem = "" if ident is not None else "the device id is not an integer"
    return RingDevice(
        family=family,
        id=ident,
        raw_id=_text(raw, 40) if ident is None else "",
        name=_text(item.get("description")) or f"{family} {raw}",
        kind=_text(item.get("kind"), 64),
        shared=shared or owned is False,
        firmware=_text(item.get("firmware_version"), 64),
        location_id=_text(item.get("location_id"), 64),
        address=_text(item.get("address")),
        device_id=_text(item.get("device_id"), 64),
        battery_level=level,
        battery_powered=bool(battery),
        online=alerts.get("connection", "online") != "offline",
        e2ee=e2ee,
        live_view_disabled=settings.get("live_view_disabled") is True,
        motion_detection_enabled=settings.get("motion_detection_enabled") is not False,
        problem=problem,
    )


def parse_devices(data: object) -> list[RingDevice]:
    """Every camera, doorbell and intercom of a ``ring_devices`` answer (chimes left out)."""
    if not isinstance(data, Mapping):
        return []
    found: list[RingDevice] = []
    for group, family, shared in _GROUPS:
        items = data.get(group)
        if not isinstance(items, list):
            continue
        for item in items[:_MAX_DEVICES]:
            if not isinstance(item, Mapping):
                continue
            if group == "other" and item.get("kind") != "intercom_handset_audio":
                continue  # locks, bridges and the like: no camera
            found.append(_device(item, family, shared))
    return found[:_MAX_DEVICES]
