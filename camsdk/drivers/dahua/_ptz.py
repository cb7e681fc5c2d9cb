"""Dahua PTZ over ``/cgi-bin/ptz.cgi``, mapped onto camsdk's normalised PTZ API.

- Continuous moves: ``action=start&code=Up|Down|Left|Right|LeftUp|RightUp|
  LeftDown|RightDown|ZoomTele|ZoomWide`` with the speed (1..8) in ``arg2``
  (diagonals: vertical speed in ``arg1``, horizontal in ``arg2``); the device
  moves until ``action=stop`` with the same code, so the codes started are
  remembered and each is stopped.
- Presets: ``action=getPresets`` (``presets[i].Index``/``.Name``),
  ``code=GotoPreset`` and ``code=SetPreset`` with the preset number in
  ``arg2``; a new preset's name is set with ``code=SetPresetName`` where the
  firmware has it (best effort).
- Position: ``action=getStatus`` (``status.Postion[0..2]``: pan 0..360 degrees,
  tilt in degrees, zoom multiplier; the misspelling is the firmware's), read
  as pan -1..1 (0 degrees = -1), tilt -1..1 over -90..90 degrees, zoom 0..1.
- What the channel can do: ``action=getCurrentProtocolCaps`` (``caps.Pan``,
  ``caps.Tile`` (sic), ``caps.Zoom``, ``caps.Preset``, ``caps.PresetMax``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from camsdk.driver import (
    ConfigurationError,
    DeviceError,
    PTZDriver,
    PTZPreset,
    PTZStatus,
    UnsupportedCapabilityError,
)

from ._api import DahuaApi
from ._text import indexed, parse_bool, parse_float, parse_int

__all__ = ["DahuaPTZ", "PTZCaps", "read_caps"]

_PTZ = "/cgi-bin/ptz.cgi"
_MAX_SPEED = 8
_ZOOM_MAX = 30.0


@dataclass(frozen=True, slots=True)
class PTZCaps:
    """What one channel's PTZ can do."""

    pan: bool = False
    tilt: bool = False
    zoom: bool = False
    presets: bool = False
    preset_max: int = 0

    @property
    def moves(self) -> bool:
        """Whether the channel can move at all."""
        return self.pan or self.tilt or self.zoom


async def read_caps(api: DahuaApi, channel: int) -> PTZCaps:
    """The channel's PTZ capabilities (none where the firmware answers an error)."""
    values = await api.cgi(
        _PTZ, {"action": "getCurrentProtocolCaps", "channel": str(channel)},
        action="PTZ caps",
    )
    pan = parse_bool(values.get("caps.Pan")) is True
    tilt = parse_bool(values.get("caps.Tile", values.get("caps.Tilt"))) is True
    zoom = parse_bool(values.get("caps.Zoom")) is True
    preset_max = parse_int(values.get("caps.PresetMax")) or 0
    presets = parse_bool(values.get("caps.Preset")) is True and preset_max > 0
    return PTZCaps(pan, tilt, zoom, presets, min(preset_max, 1024))


def _speed(value: float) -> int:
    return max(1, min(_MAX_SPEED, math.ceil(abs(value) * _MAX_SPEED)))


def _clamp(value: float, low: float = -1.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


class DahuaPTZ(PTZDriver):
    """PTZ of one channel (see the module docstring)."""

    def __init__(self, api: DahuaApi, channel: int, caps: PTZCaps) -> None:
        self._api = api
        self._channel = str(channel)
        self.caps = caps
        self.supports_presets = caps.presets
        self._moving: list[str] = []

    def __repr__(self) -> str:
        return f"DahuaPTZ({self._api.shown!r}, channel={self._channel})"

    async def _start(self, code: str, arg1: int = 0, arg2: int = 0, **extra: str) -> None:
        await self._api.command(
            _PTZ,
            {"action": "start", "channel": self._channel, "code": code, "arg1": str(arg1),
             "arg2": str(arg2), "arg3": "0", **extra},
            action=f"PTZ {code}",
        )

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start moving; a zero axis stays still. Speeds map onto the device's 1..8."""
        for value in (pan, tilt, zoom):
            if not -1.0 <= value <= 1.0 or value != value:
                raise ConfigurationError("PTZ speeds run from -1 to 1", scheme="dahua",
                                         url=self._api.shown)
        await self.stop()
        codes: list[tuple[str, int, int]] = []
        horizontal = "Right" if pan > 0 else "Left" if pan < 0 else ""
        vertical = "Up" if tilt > 0 else "Down" if tilt < 0 else ""
        if horizontal and vertical:
            codes.append((horizontal + vertical, _speed(tilt), _speed(pan)))
        elif horizontal:
            codes.append((horizontal, 0, _speed(pan)))
        elif vertical:
            codes.append((vertical, 0, _speed(tilt)))
        if zoom:
            codes.append(("ZoomTele" if zoom > 0 else "ZoomWide", 0, _speed(zoom)))
        for code, arg1, arg2 in codes:
            await self._start(code, arg1, arg2)
            self._moving.append(code)

    async def stop(self) -> None:
        """Stop every movement started here (the device needs the code to stop)."""
        moving, self._moving = self._moving, []
        for code in moving:
            await self._api.command(
                _PTZ,
                {"action": "stop", "channel": self._channel, "code": code, "arg1": "0",
                 "arg2": "0", "arg3": "0"},
                action=f"PTZ stop {code}",
            )

    async def status(self) -> PTZStatus:
        """The position, normalised (see the module docstring)."""
        values = await self._api.cgi(
            _PTZ, {"action": "getStatus", "channel": self._channel}, action="PTZ status"
        )
        pan = parse_float(values.get("status.Postion[0]", values.get("status.Position[0]")))
        tilt = parse_float(values.get("status.Postion[1]", values.get("status.Position[1]")))
        zoom = parse_float(values.get("status.Postion[2]", values.get("status.Position[2]")))
        state = values.get("status.MoveStatus", "Idle").lower()
        return PTZStatus(
            pan=_clamp(((pan or 0.0) % 360.0) / 180.0 - 1.0),
            tilt=_clamp((tilt or 0.0) / 90.0),
            zoom=_clamp(((zoom or 1.0) - 1.0) / (_ZOOM_MAX - 1.0), 0.0, 1.0),
            moving=state not in ("idle", "", "stop"),
        )

    def _require_presets(self) -> None:
        if not self.caps.presets:
            raise UnsupportedCapabilityError(
                "this channel has no PTZ presets", scheme="dahua", url=self._api.shown
            )

    async def presets(self) -> list[PTZPreset]:
        """The stored presets (``token`` is the preset number)."""
        self._require_presets()
        values = await self._api.cgi(
            _PTZ, {"action": "getPresets", "channel": self._channel}, action="PTZ presets"
        )
        found = []
        for _, entry in sorted(indexed(values, "presets").items()):
            number = parse_int(entry.get("Index"))
            if number is not None and number > 0:
                found.append(PTZPreset(token=str(number), name=entry.get("Name", "")[:64]))
        return found

    def _number(self, token: str) -> int:
        number = parse_int(token)
        limit = self.caps.preset_max or 1024
        if number is None or not 1 <= number <= limit:
            raise ConfigurationError(
                f"a Dahua preset token is a number 1..{limit}", scheme="dahua",
                url=self._api.shown,
            )
        return number

    async def goto_preset(self, token: str) -> None:
        """Move to preset ``token`` (its number)."""
        self._require_presets()
        await self._start("GotoPreset", 0, self._number(token))

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the position as the first free preset number, then name it (best effort)."""
        self._require_presets()
        used = {int(p.token) for p in await self.presets()}
        free = next((n for n in range(1, (self.caps.preset_max or 255) + 1) if n not in used),
                    None)
        if free is None:
            raise DeviceError("every preset number is in use", scheme="dahua",
                              url=self._api.shown, code="full")
        await self._start("SetPreset", 0, free)
        shown = name[:64]
        if shown:
            try:
                await self._start("SetPresetName", 0, free, name=shown)
            except DeviceError:
                shown = ""  # firmware without preset names: the number still works
        return PTZPreset(token=str(free), name=shown)
