"""The simulated device's PTZ: ``/ISAPI/PTZCtrl/channels/<n>/...``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from camsdk.testing._http_device import Request, Response

from . import _documents as doc

if TYPE_CHECKING:  # pragma: no cover
    from ._device import HikvisionDevice

__all__ = ["PTZHead", "answer_ptz"]


@dataclass(slots=True)
class PTZHead:
    """One channel's simulated PTZ: position (ISAPI units), speeds, presets."""

    azimuth: float = 1800.0
    elevation: float = 0.0
    zoom: float = 10.0
    speeds: tuple[int, int, int] = (0, 0, 0)
    since: float = field(default_factory=time.monotonic)
    presets: dict[int, str] = field(default_factory=dict)
    moves: int = 0

    def settle(self, now: float) -> None:
        """Apply the running speeds up to ``now`` (100 = 90 degrees a second)."""
        dt = now - self.since
        self.since = now
        pan, tilt, zoom = self.speeds
        self.azimuth = (self.azimuth + pan * 9.0 * dt) % 3600
        self.elevation = max(-900.0, min(900.0, self.elevation - tilt * 9.0 * dt))
        self.zoom = max(10.0, min(320.0, self.zoom + zoom * 1.0 * dt))


def answer_ptz(device: HikvisionDevice, request: Request) -> Response:
    """Answer one ``/ISAPI/PTZCtrl/channels/<n>/...`` request."""
    assert request.match is not None
    channel, rest = int(request.match.group(1)), request.match.group(2)
    head = device.heads.get(channel)
    if head is None:
        return device._not_supported(request.path)
    head.settle(time.monotonic())
    from camsdk.driver import xml as x

    payload = x.parse(request.body) if request.body.strip() else None
    if rest == "capabilities" and request.method == "GET":
        return device._xml(doc.ptz_capabilities(device.ns))
    if rest == "status" and request.method == "GET":
        return device._xml(doc.ptz_status(device.ns, round(head.azimuth), round(head.elevation),
                                        round(head.zoom)))
    if rest == "continuous" and request.method == "PUT":
        speeds = tuple(int(x.text(payload, n) or 0) for n in ("pan", "tilt", "zoom"))
        if any(abs(s) > 100 for s in speeds):
            return device._status(request.path, 6, "Invalid XML Content", "badParameters", 400)
        head.speeds = speeds  # type: ignore[assignment]
        head.moves += 1
        return device._status(request.path)
    if rest == "absolute" and request.method == "PUT":
        high = x.find(payload, "AbsoluteHigh")
        head.azimuth = float(x.text(high, "azimuth") or head.azimuth)
        head.elevation = float(x.text(high, "elevation") or head.elevation)
        head.zoom = float(x.text(high, "absoluteZoom") or head.zoom)
        return device._status(request.path)
    if rest == "presets" and request.method == "GET":
        return device._xml(doc.presets(device.ns, head.presets))
    found = re.fullmatch(r"presets/(\d+)(/goto)?", rest)
    if found and request.method == "PUT":
        number = int(found.group(1))
        if found.group(2):
            if number not in head.presets:
                return device._status(request.path, 4, "Invalid Operation", "presetNotSet",
                                    400)
            return device._status(request.path)
        head.presets[number] = x.text(payload, "presetName") or f"Preset {number}"
        return device._status(request.path)
    if rest == "homeposition/goto" and request.method == "PUT":
        head.azimuth, head.elevation = 1800.0, 0.0
        return device._status(request.path)
    return device._not_supported(request.path)
