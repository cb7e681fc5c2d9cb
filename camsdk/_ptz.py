"""`PTZControl`: pan, tilt and zoom through the facade (policy, audit, deadlines, ranges)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ._access import Action
from ._errors import ConfigurationError
from ._models import PTZPreset, PTZStatus

if TYPE_CHECKING:  # pragma: no cover
    from ._camera import Camera
    from ._driver import PTZDriver

__all__ = ["PTZControl"]

T = TypeVar("T")


def _check_range(name: str, value: float, low: float, high: float, url: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, not {type(value).__name__}", url=url)
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be within {low}..{high}, got {value}", url=url)
    return float(value)


class PTZControl:
    """Pan, tilt and zoom in normalised coordinates (pan/tilt -1..1, zoom 0..1).

    Every call passes the access policy (action ``ptz``) and has the camera's
    ``request_timeout``.
    """

    def __init__(self, camera: Camera, driver: PTZDriver) -> None:
        self._camera = camera
        self._driver = driver

    def __repr__(self) -> str:
        return f"<PTZControl {self._camera.url}>"

    @property
    def supports_presets(self) -> bool:
        """Whether the camera stores presets."""
        return self._driver.supports_presets

    async def _do(self, call: Callable[[], Awaitable[T]], purpose: str) -> T:
        camera = self._camera
        camera._authorize(Action.PTZ, purpose)
        return await camera._call(call(), camera.config.request_timeout,
                                  camera._request(Action.PTZ, purpose))

    async def move(
        self, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0, *,
        duration: float | None = None, purpose: str = "",
    ) -> None:
        """Move continuously at the given speeds (-1..1); stop after ``duration`` if given."""
        url = self._camera.url
        p = _check_range("pan", pan, -1, 1, url)
        t = _check_range("tilt", tilt, -1, 1, url)
        z = _check_range("zoom", zoom, -1, 1, url)
        if duration is not None:
            duration = _check_range("duration", duration, 0, 3600, url)
        await self._do(lambda: self._driver.continuous_move(p, t, z), purpose)
        if duration is not None:
            await asyncio.sleep(duration)
            await self.stop(purpose=purpose)

    async def stop(self, *, purpose: str = "") -> None:
        """Stop moving."""
        await self._do(self._driver.stop, purpose)

    async def absolute(self, pan: float, tilt: float, zoom: float, *, purpose: str = "") -> None:
        """Move to an absolute position (pan/tilt -1..1, zoom 0..1)."""
        url = self._camera.url
        p, t = _check_range("pan", pan, -1, 1, url), _check_range("tilt", tilt, -1, 1, url)
        z = _check_range("zoom", zoom, 0, 1, url)
        await self._do(lambda: self._driver.absolute_move(p, t, z), purpose)

    async def relative(
        self, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0, *, purpose: str = ""
    ) -> None:
        """Move by an offset (-2..2 for pan/tilt, -1..1 for zoom)."""
        url = self._camera.url
        p, t = _check_range("pan", pan, -2, 2, url), _check_range("tilt", tilt, -2, 2, url)
        z = _check_range("zoom", zoom, -1, 1, url)
        await self._do(lambda: self._driver.relative_move(p, t, z), purpose)

    async def status(self, *, purpose: str = "") -> PTZStatus:
        """Current position."""
        return await self._do(self._driver.status, purpose)

    async def presets(self, *, purpose: str = "") -> list[PTZPreset]:
        """Stored presets."""
        return await self._do(self._driver.presets, purpose)

    async def goto_preset(self, token: str, *, purpose: str = "") -> None:
        """Move to a stored preset."""
        if not isinstance(token, str) or not token:
            raise ConfigurationError("a preset token is a non-empty string", url=self._camera.url)
        await self._do(lambda: self._driver.goto_preset(token), purpose)

    async def set_preset(self, name: str, *, purpose: str = "") -> PTZPreset:
        """Store the current position as a preset named ``name``."""
        if not isinstance(name, str) or not name:
            raise ConfigurationError("a preset name is a non-empty string", url=self._camera.url)
        return await self._do(lambda: self._driver.set_preset(name), purpose)

    async def home(self, *, purpose: str = "") -> None:
        """Move to the home position."""
        await self._do(self._driver.home, purpose)

