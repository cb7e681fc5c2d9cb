"""PTZ of Protect's PTZ cameras (G4 PTZ, G5 PTZ) through the private API.

- continuous move and stop: ``POST /cameras/{id}/move`` with
  ``{"type": "continuous", "payload": {"x", "y", "z"}}`` speeds in
  per mille (-1000..1000); all zero stops;
- position: ``GET /cameras/{id}/ptz/position`` in motor steps, mapped onto
  camsdk's -1..1 (pan, tilt) and 0..1 (zoom) with the step ranges of the
  camera's ``featureFlags`` (``pan``/``tilt``/``zoom`` ``steps``);
- presets: ``GET /cameras/{id}/ptz/preset``, ``POST .../ptz/preset`` (name
  and the next free slot), ``POST .../ptz/goto/{slot}``; home is slot -1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from camsdk.driver import (
    CameraProtocolError,
    ConfigurationError,
    PTZDriver,
    PTZPreset,
    PTZStatus,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._session import ConsoleSession

__all__ = ["ProtectPTZ", "StepRanges"]

_HOME_SLOT = -1
_MAX_PRESETS = 64


class StepRanges:
    """Motor step ranges of one PTZ camera (from its ``featureFlags``)."""

    def __init__(self, flags: Mapping[str, Any]) -> None:
        self.pan = self._range(flags.get("pan"), (0, 36000))
        self.tilt = self._range(flags.get("tilt"), (0, 9000))
        self.zoom = self._range(flags.get("zoom"), (0, 100))

    @staticmethod
    def _range(raw: Any, default: tuple[int, int]) -> tuple[int, int]:
        steps = raw.get("steps") if isinstance(raw, Mapping) else None
        if isinstance(steps, Mapping):
            low, high = steps.get("min"), steps.get("max")
            if isinstance(low, int | float) and isinstance(high, int | float) and high > low:
                return int(low), int(high)
        return default


def _scale(value: Any, span: tuple[int, int], low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return low if low == 0.0 else 0.0
    start, end = span
    fraction = (float(value) - start) / (end - start)
    out = low + fraction * (1.0 - low)
    return min(max(out, low), 1.0)


class ProtectPTZ(PTZDriver):
    """PTZ of one Protect camera (see the module docstring)."""

    supports_presets = True

    def __init__(self, session: ConsoleSession, camera_id: str, ranges: StepRanges) -> None:
        self._session = session
        self._base = f"/proxy/protect/api/cameras/{camera_id}"
        self._ranges = ranges
        self._moving = False

    async def _move(self, pan: float, tilt: float, zoom: float) -> None:
        payload = {"x": round(pan * 1000), "y": round(tilt * 1000), "z": round(zoom * 1000)}
        await self._session.request("POST", f"{self._base}/move", action="PTZ move",
                                    json={"type": "continuous", "payload": payload})

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move at the given speeds (-1..1) until `stop`."""
        await self._move(pan, tilt, zoom)
        self._moving = any((pan, tilt, zoom))

    async def stop(self) -> None:
        """Stop moving."""
        await self._move(0.0, 0.0, 0.0)
        self._moving = False

    async def status(self) -> PTZStatus:
        """The position, in camsdk's normalised coordinates."""
        answer = (await self._session.request("GET", f"{self._base}/ptz/position",
                                              action="PTZ position")).json()
        if not isinstance(answer, Mapping):
            raise CameraProtocolError("the PTZ position is not an object", scheme="unifi",
                                      url=self._session.shown)
        return PTZStatus(
            pan=_scale(answer.get("pan"), self._ranges.pan, -1.0),
            tilt=_scale(answer.get("tilt"), self._ranges.tilt, -1.0),
            zoom=_scale(answer.get("zoom"), self._ranges.zoom, 0.0),
            moving=self._moving,
        )

    async def _slots(self) -> list[Mapping[str, Any]]:
        answer = (await self._session.request("GET", f"{self._base}/ptz/preset",
                                              action="PTZ presets")).json()
        if not isinstance(answer, list):
            raise CameraProtocolError("the PTZ presets are not a list", scheme="unifi",
                                      url=self._session.shown)
        return [p for p in answer[:_MAX_PRESETS] if isinstance(p, Mapping)
                and isinstance(p.get("slot"), int) and not isinstance(p.get("slot"), bool)]

    async def presets(self) -> list[PTZPreset]:
        """Stored presets; the token is the slot number."""
        return [PTZPreset(token=str(p["slot"]), name=str(p.get("name", ""))[:64])
                for p in await self._slots() if p["slot"] >= 0]

    async def goto_preset(self, token: str) -> None:
        """Move to the preset in slot ``token``."""
        try:
            slot = int(token)
        except ValueError:
            raise ConfigurationError(f"a Protect preset token is a slot number, not {token!r}",
                                     scheme="unifi", url=self._session.shown) from None
        await self._session.request("POST", f"{self._base}/ptz/goto/{slot}",
                                    action="PTZ go to preset")

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the position as ``name`` in the next free slot."""
        used = {p["slot"] for p in await self._slots()}
        slot = next(i for i in range(_MAX_PRESETS + 1) if i not in used)
        await self._session.request("POST", f"{self._base}/ptz/preset", action="PTZ set preset",
                                    json={"name": name[:64], "slot": slot})
        return PTZPreset(token=str(slot), name=name[:64])

    async def home(self) -> None:
        """Go to the home position (slot -1)."""
        await self._session.request("POST", f"{self._base}/ptz/goto/{_HOME_SLOT}",
                                    action="PTZ home")
