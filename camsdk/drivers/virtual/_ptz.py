"""Simulated pan/tilt/zoom of the virtual camera.

`PTZState` is the mechanism: a position that moves at a velocity, integrated
over the asyncio clock on demand (no task ticks while it moves), clamped to
pan and tilt -1..1 and zoom 0..1, plus the stored presets. It lives in the
shared `VirtualDevice`, so every camera opened on one name sees one head.
`VirtualPTZ` is the `PTZDriver` a driver hands out over it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from camsdk.driver import CameraClosedError, ConfigurationError, PTZDriver, PTZPreset, PTZStatus

__all__ = ["HOME_PRESET", "PTZState", "VirtualPTZ"]

#: Token of the preset every virtual camera starts with: the home position.
HOME_PRESET = "1"
#: Normalised units per second at speed 1.0: a full pan sweep (-1 to 1) takes 2 s.
FULL_SPEED = 1.0

_PAN = (-1.0, 1.0)
_TILT = (-1.0, 1.0)
_ZOOM = (0.0, 1.0)
_LIMITS = (_PAN, _TILT, _ZOOM)
_HOME = (0.0, 0.0, 0.0)


def _clock() -> float:
    """The asyncio clock when a loop runs, else the monotonic clock it defaults to."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def _clamp(value: float, limits: tuple[float, float]) -> float:
    return min(max(value, limits[0]), limits[1])


def _clamped(pan: float, tilt: float, zoom: float) -> tuple[float, float, float]:
    return (_clamp(pan, _PAN), _clamp(tilt, _TILT), _clamp(zoom, _ZOOM))


def _check_finite(what: str, *values: float) -> None:
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise ConfigurationError(f"PTZ {what} must be finite numbers, got {values!r}")


@dataclass(slots=True)
class _Preset:
    name: str
    position: tuple[float, float, float]


class PTZState:
    """Position, velocity and presets of one simulated PTZ head."""

    def __init__(self, clock: Callable[[], float] = _clock) -> None:
        self._clock = clock
        self._position = _HOME
        self._velocity = (0.0, 0.0, 0.0)
        self._since = clock()
        self._presets: dict[str, _Preset] = {HOME_PRESET: _Preset("home", _HOME)}
        self._next_token = int(HOME_PRESET) + 1

    def position(self) -> tuple[float, float, float]:
        """Current pan, tilt, zoom."""
        elapsed = self._clock() - self._since
        step = FULL_SPEED * elapsed
        (pan, tilt, zoom), (vp, vt, vz) = self._position, self._velocity
        return _clamped(pan + vp * step, tilt + vt * step, zoom + vz * step)

    def status(self) -> PTZStatus:
        """Current position, and whether any axis is still travelling."""
        pan, tilt, zoom = position = self.position()
        # An axis pressed against its end stop has stopped moving, whatever its speed.
        moving = any(
            (v > 0 and p < lim[1]) or (v < 0 and p > lim[0])
            for p, v, lim in zip(position, self._velocity, _LIMITS, strict=True)
        )
        return PTZStatus(pan=pan, tilt=tilt, zoom=zoom, moving=moving)

    def move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start moving at these speeds (-1..1 each)."""
        _check_finite("speeds", pan, tilt, zoom)
        if any(abs(v) > 1 for v in (pan, tilt, zoom)):
            raise ConfigurationError(f"PTZ speeds must be within -1..1, got {(pan, tilt, zoom)}")
        self._settle()
        self._velocity = (float(pan), float(tilt), float(zoom))

    def stop(self) -> None:
        """Freeze the head where it is."""
        self._settle()
        self._velocity = (0.0, 0.0, 0.0)

    def goto(self, pan: float, tilt: float, zoom: float) -> None:
        """Jump to an absolute position (the simulated motor is instant); stops any move."""
        _check_finite("positions", pan, tilt, zoom)
        target = (float(pan), float(tilt), float(zoom))
        for value, lim, axis in zip(target, _LIMITS, ("pan", "tilt", "zoom"), strict=True):
            if not lim[0] <= value <= lim[1]:
                raise ConfigurationError(f"PTZ {axis} must be within {lim[0]:g}..{lim[1]:g}")
        self._set(target)

    def shift(self, pan: float, tilt: float, zoom: float) -> None:
        """Move by an offset; the result is clamped to the limits."""
        _check_finite("offsets", pan, tilt, zoom)
        here_pan, here_tilt, here_zoom = self.position()
        self._set(_clamped(here_pan + pan, here_tilt + tilt, here_zoom + zoom))

    def presets(self) -> list[PTZPreset]:
        """Stored presets, in token order."""
        return [
            PTZPreset(token=token, name=preset.name)
            for token, preset in sorted(self._presets.items(), key=lambda kv: int(kv[0]))
        ]

    def save_preset(self, name: str) -> PTZPreset:
        """Store the current position as ``name``; an existing name is overwritten."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("a PTZ preset needs a non-empty name")
        position = self.position()
        for token, preset in self._presets.items():
            if preset.name == name:
                preset.position = position
                return PTZPreset(token=token, name=name)
        token = str(self._next_token)
        self._next_token += 1
        self._presets[token] = _Preset(name, position)
        return PTZPreset(token=token, name=name)

    def goto_preset(self, token: str) -> None:
        """Jump to a stored preset; an unknown token is a `ConfigurationError`."""
        preset = self._presets.get(token)
        if preset is None:
            raise ConfigurationError(f"unknown PTZ preset {token!r}")
        self._set(preset.position)

    def home(self) -> None:
        """Jump to the home position (centre, widest zoom)."""
        self._set(_HOME)

    def _settle(self) -> None:
        # Fold the travel so far into the position before the velocity changes.
        self._position = self.position()
        self._since = self._clock()

    def _set(self, position: tuple[float, float, float]) -> None:
        self._position = position
        self._velocity = (0.0, 0.0, 0.0)
        self._since = self._clock()


class VirtualPTZ(PTZDriver):
    """The `PTZDriver` of a virtual camera; every call acts on the shared `PTZState`."""

    supports_presets = True

    def __init__(self, state: PTZState, *, is_closed: Callable[[], bool], url: str) -> None:
        self._state = state
        self._is_closed = is_closed
        self._url = url

    def _live(self) -> PTZState:
        if self._is_closed():
            raise CameraClosedError("camera is closed", scheme="virtual", url=self._url)
        return self._state

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start moving at the given speeds (-1..1) until `stop` or an end stop."""
        self._live().move(pan, tilt, zoom)

    async def stop(self) -> None:
        """Stop any movement."""
        self._live().stop()

    async def status(self) -> PTZStatus:
        """Current position and whether the head is moving."""
        return self._live().status()

    async def absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move to an absolute position (out-of-range values are a `ConfigurationError`)."""
        self._live().goto(pan, tilt, zoom)

    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move by an offset, clamped to the limits."""
        self._live().shift(pan, tilt, zoom)

    async def presets(self) -> list[PTZPreset]:
        """Stored presets; ``"1"`` (home) always exists."""
        return self._live().presets()

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the current position under ``name``."""
        return self._live().save_preset(name)

    async def goto_preset(self, token: str) -> None:
        """Move to a stored preset."""
        self._live().goto_preset(token)

    async def home(self) -> None:
        """Move to the home position."""
        self._live().home()
