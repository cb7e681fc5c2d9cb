"""PTZ of a Reolink channel: ``PtzCtrl`` moves, ``GetPtzPreset``/``SetPtzPreset`` presets.

Reolink PTZ is direction-and-speed: ``op`` is one of ``Left``, ``Right``,
``Up``, ``Down``, the four diagonals (``LeftUp`` ...), ``ZoomInc``,
``ZoomDec``, ``Stop`` or ``ToPos`` (a preset ``id``), and ``speed`` runs
from 1 to 64. camsdk's normalised velocities (-1..1) pick the direction
and the speed; pan/tilt win over zoom when both are asked (the device moves
one way at a time). Positions come from ``GetPtzCurPos`` where the device
has it (``ptzCurPos`` ability) and its range is reported; otherwise
`status` says only whether a move is running.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from camsdk.driver import (
    ConfigurationError,
    PTZDriver,
    PTZPreset,
    PTZStatus,
    UnsupportedCapabilityError,
    json_array,
    json_int,
    json_object,
    json_text,
)

from ._api import ReolinkSession

__all__ = ["ReolinkPTZ", "direction"]

MAX_SPEED = 64
#: Preset ids Reolink firmware accepts.
MAX_PRESETS = 64
_DEAD_ZONE = 0.05


def direction(pan: float, tilt: float, zoom: float) -> tuple[str, int]:
    """The ``PtzCtrl`` op and speed (1..64) for normalised velocities."""
    horizontal = "Right" if pan > _DEAD_ZONE else "Left" if pan < -_DEAD_ZONE else ""
    vertical = "Up" if tilt > _DEAD_ZONE else "Down" if tilt < -_DEAD_ZONE else ""
    magnitude = max(abs(pan) if horizontal else 0.0, abs(tilt) if vertical else 0.0)
    if horizontal or vertical:
        return horizontal + vertical, max(1, min(MAX_SPEED, round(magnitude * MAX_SPEED)))
    if abs(zoom) > _DEAD_ZONE:
        speed = max(1, min(MAX_SPEED, round(abs(zoom) * MAX_SPEED)))
        return ("ZoomInc" if zoom > 0 else "ZoomDec"), speed
    return "Stop", 0


def _normalise(value: int, low: int, high: int, *, signed: bool) -> float:
    if high <= low:
        return 0.0
    fraction = (min(max(value, low), high) - low) / (high - low)
    return fraction * 2.0 - 1.0 if signed else fraction


class ReolinkPTZ(PTZDriver):
    """PTZ of one channel (see the module docstring)."""

    def __init__(self, session: ReolinkSession, channel: int, *, presets: bool,
                 position: bool) -> None:
        self._session = session
        self._channel = channel
        self.supports_presets = presets
        self._position = position
        self._moving = False

    async def _ctrl(self, op: str, **extra: int) -> None:
        param: dict[str, Any] = {"channel": self._channel, "op": op, **extra}
        await self._session.call("PtzCtrl", param)

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start moving in the direction of the velocities (until `stop`)."""
        op, speed = direction(pan, tilt, zoom)
        if op == "Stop":
            await self.stop()
            return
        await self._ctrl(op, speed=speed)
        self._moving = True

    async def stop(self) -> None:
        """``PtzCtrl`` ``Stop``."""
        await self._ctrl("Stop")
        self._moving = False

    async def status(self) -> PTZStatus:
        """The position where the device reports it, and whether a move runs."""
        if not self._position:
            return PTZStatus(moving=self._moving)
        answers = await self._session.batch(
            [{"cmd": "GetPtzCurPos", "action": 1, "param": {"PtzCurPos": {
                "channel": self._channel}}}]
        )
        answer = answers[0]
        if not answer.ok:
            return PTZStatus(moving=self._moving)
        position = json_object(json_object(answer.value).get("PtzCurPos"))
        span = json_object(json_object(answer.value).get("range")) or json_object(
            json_object(json_object(answer.value).get("PtzCurPosRange")))
        p_range = json_object(span.get("Ppos"))
        t_range = json_object(span.get("Tpos"))
        pan = _normalise(json_int(position.get("Ppos")), json_int(p_range.get("min")),
                         json_int(p_range.get("max")), signed=True)
        tilt = _normalise(json_int(position.get("Tpos")), json_int(t_range.get("min")),
                          json_int(t_range.get("max")), signed=True)
        return PTZStatus(pan=pan, tilt=tilt, moving=self._moving)

    async def _preset_table(self) -> list[Mapping[str, Any]]:
        value = await self._session.call("GetPtzPreset", {"channel": self._channel})
        table = json_array(json_object(value).get("PtzPreset"))
        return [json_object(p) for p in table[:MAX_PRESETS * 4]]

    async def presets(self) -> list[PTZPreset]:
        """The enabled presets (``GetPtzPreset``)."""
        self._require_presets()
        found = []
        for entry in await self._preset_table():
            if json_int(entry.get("enable")) == 1:
                ident = json_int(entry.get("id"), -1)
                if 0 <= ident <= 255:
                    found.append(PTZPreset(token=str(ident), name=json_text(entry.get("name"))))
        return found

    async def goto_preset(self, token: str) -> None:
        """``PtzCtrl`` ``ToPos`` with the preset's id."""
        self._require_presets()
        if not token.isdigit() or int(token) > 255:
            raise ConfigurationError(f"a Reolink preset token is its number, not {token!r}")
        await self._ctrl("ToPos", id=int(token), speed=32)

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the position under the first free preset id (``SetPtzPreset``)."""
        self._require_presets()
        table = await self._preset_table()
        used = {json_int(p.get("id"), -1) for p in table if json_int(p.get("enable")) == 1}
        free = next((i for i in range(1, MAX_PRESETS + 1) if i not in used), None)
        if free is None:
            raise ConfigurationError(f"all {MAX_PRESETS} preset slots are in use")
        clean = "".join(c for c in name if c.isprintable())[:31] or f"preset {free}"
        await self._session.call(
            "SetPtzPreset",
            {"PtzPreset": {"channel": self._channel, "enable": 1, "id": free, "name": clean}},
        )
        return PTZPreset(token=str(free), name=clean)

    def _require_presets(self) -> None:
        if not self.supports_presets:
            raise UnsupportedCapabilityError("this Reolink camera reports no PTZ presets")
