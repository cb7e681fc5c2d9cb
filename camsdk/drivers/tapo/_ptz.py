"""PTZ of a Tapo camera: stepped motor moves and presets.

Tapo motors move by steps: ``{"method": "do", "motor": {"move": {"x_coord":
"<deg>", "y_coord": "<deg>"}}}`` turns the head by that many degrees and
stops by itself (firmware that refuses the direct form gets the same move
as the batched function ``motorMove``; the form that worked is kept).
Tapo's ``x`` grows to the *left* and ``y`` upwards; the reach comes from
``motor.capability`` (typically x -170..170, y -35..35). camsdk's
normalised moves map onto it:

- `continuous_move` is one step in the asked direction, ``ptz_step``
  degrees of pan (a third of it in tilt) at full speed, scaled by the speed;
- `relative_move` turns by the offset, 1.0 being half the reach;
- `stop` asks the motor to stop (firmware without that function ends the
  step by itself, so its refusal is ignored);
- `status` is the position camsdk *estimates* from the moves it made (Tapo
  firmware reports none), clamped to the reach, and from the preset's own
  position when it goes to one that reports it.

Presets are ``getPresetConfig`` (parallel arrays), ``motorMoveToPreset`` and
``addMotorPostion`` (sic). While the lens mask is on, models with
``lens_mask_no_moving`` refuse to move (``-64324``): that is a
`PrivacyModeError`. A move beyond the reach (``-64304``) is not an error:
the head is at its limit.
"""

from __future__ import annotations

import re

from camsdk.driver import (
    ConfigurationError,
    DeviceError,
    PTZDriver,
    PTZPreset,
    PTZStatus,
    UnsupportedCapabilityError,
    json_object,
    json_text,
)

from ._api import TapoSession
from ._model import MotorRange, read_presets

__all__ = ["TapoPTZ"]

_DEAD_ZONE = 0.02
_AT_LIMIT = "-64304"
_PRESET_ID = re.compile(r"^[0-9A-Za-z_-]{1,16}$")


class TapoPTZ(PTZDriver):
    """PTZ of one Tapo camera (see the module docstring)."""

    def __init__(self, session: TapoSession, motor: MotorRange, *, step: float) -> None:
        self._session = session
        self._motor = motor
        self._step = step
        self.supports_presets = motor.presets
        #: The estimated head position in the device's degrees, shared by the session.
        self._position = session.ptz_position

    @property
    def _shown(self) -> str:
        return self._session.shown

    def _clamp_move(self, dx: float, dy: float) -> tuple[int, int]:
        motor, (x, y) = self._motor, self._position
        nx = min(max(x + dx, motor.x_min), motor.x_max)
        ny = min(max(y + dy, motor.y_min), motor.y_max)
        return round(nx - x), round(ny - y)

    async def _move(self, dx: float, dy: float) -> None:
        step_x, step_y = self._clamp_move(dx, dy)
        if step_x == 0 and step_y == 0:
            return  # already at the limit that way
        try:
            await self._send_move(step_x, step_y)
        except DeviceError as exc:
            if exc.code != _AT_LIMIT:
                raise
        self._position[0] += step_x
        self._position[1] += step_y

    async def _send_move(self, step_x: int, step_y: int) -> None:
        """The move in the form this firmware takes: direct ``do``, else ``motorMove``."""
        session = self._session
        move = {"move": {"x_coord": str(step_x), "y_coord": str(step_y)}}
        if session.motor_form != "batched":
            try:
                await session.do({"method": "do", "motor": move}, action="motor move")
            except UnsupportedCapabilityError:
                if session.motor_form == "direct":
                    raise
            else:
                session.motor_form = "direct"
                return
        await session.call("motorMove", {"motor": move})
        session.motor_form = "batched"

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """One step in the direction of ``pan``/``tilt``, sized by the speed (zoom: none)."""
        if abs(pan) < _DEAD_ZONE and abs(tilt) < _DEAD_ZONE:
            await self.stop()
            return
        await self._move(-pan * self._step, tilt * self._step / 3.0)

    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Turn by ``pan``/``tilt`` (1.0: half the reach)."""
        motor = self._motor
        await self._move(-pan * (motor.x_max - motor.x_min) / 2.0,
                         tilt * (motor.y_max - motor.y_min) / 2.0)

    async def stop(self) -> None:
        """Ask the motor to stop (a step ends by itself where the firmware cannot)."""
        try:
            await self._session.do({"method": "do", "motor": {"stop": "null"}},
                                   action="motor stop")
        except UnsupportedCapabilityError:
            pass

    async def status(self) -> PTZStatus:
        """The estimated position, normalised (see the module docstring)."""
        motor, (x, y) = self._motor, self._position
        pan = -(2.0 * (x - motor.x_min) / (motor.x_max - motor.x_min) - 1.0)
        tilt = 2.0 * (y - motor.y_min) / (motor.y_max - motor.y_min) - 1.0
        return PTZStatus(pan=min(1.0, max(-1.0, pan)) + 0.0, tilt=min(1.0, max(-1.0, tilt)) + 0.0)

    def _require_presets(self) -> None:
        if not self._motor.presets:
            raise UnsupportedCapabilityError("this Tapo camera has no PTZ presets",
                                             scheme="tapo", url=self._shown)

    async def presets(self) -> list[PTZPreset]:
        """The stored presets (``getPresetConfig``)."""
        self._require_presets()
        result = await self._session.call("getPresetConfig", {"preset": {"name": ["preset"]}})
        return [PTZPreset(token=p.id, name=p.name) for p in read_presets(result)]

    async def goto_preset(self, token: str) -> None:
        """Move to preset ``token`` (its id)."""
        self._require_presets()
        if not isinstance(token, str) or not _PRESET_ID.match(token):
            raise ConfigurationError("a Tapo preset token is its id (digits)", scheme="tapo",
                                     url=self._shown)
        await self._session.call("motorMoveToPreset", {"preset": {"goto_preset": {"id": token}}})
        await self._follow_preset(token)

    async def _follow_preset(self, token: str) -> None:
        """Take the preset's reported position as the new estimate, where it has one."""
        result = await self._session.call("getPresetConfig", {"preset": {"name": ["preset"]}})
        motor = self._motor
        for preset in read_presets(result):
            if preset.id == token and preset.pan is not None and preset.tilt is not None:
                # Reported as fractions of the reach (-1..1), Tapo's own directions.
                self._position[0] = min(max(preset.pan * motor.x_max, motor.x_min), motor.x_max)
                self._position[1] = min(max(preset.tilt * motor.y_max, motor.y_min),
                                        motor.y_max)

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the current position as preset ``name``."""
        self._require_presets()
        clean = "".join(c for c in str(name) if c.isprintable()).strip()
        if not clean or len(clean) > 32:
            raise ConfigurationError("a Tapo preset name has 1 to 32 printable characters",
                                     scheme="tapo", url=self._shown)
        result = await self._session.call(
            "addMotorPostion", {"preset": {"set_preset": {"name": clean, "save_ptz": "1"}}})
        preset_id = json_text(json_object(result).get("id"))
        if not preset_id:
            listed = await self.presets()
            named = [p for p in listed if p.name == clean]
            if not named:
                raise DeviceError("addMotorPostion: the camera did not keep the preset",
                                  scheme="tapo", url=self._shown)
            return named[-1]
        return PTZPreset(token=preset_id, name=clean)
