"""PTZ over ``/ISAPI/PTZCtrl/channels/<n>`` (or an NVR's ``PTZCtrlProxy``).

Continuous moves are ``PTZData`` with pan/tilt/zoom speeds in -100..100
(all zero stops). Positions are ``AbsoluteHigh``: ``azimuth`` 0..3600 and
``elevation`` in tenths of a degree (positive looks down), ``absoluteZoom``
in tenths of the magnification; they are mapped onto camsdk's normalised
space through the ranges the channel's ``capabilities`` state. Presets are
listed with their names; firmware lists every slot, so only enabled ones
count, and `set_preset` takes the lowest free slot outside the numbers
Hikvision reserves for special functions (33-45, 92-105).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from camsdk.driver import DeviceError, PTZDriver, PTZPreset, PTZStatus
from camsdk.driver import xml as x

from ._api import IsapiClient, is_unsupported

__all__ = ["HikvisionPTZ", "PTZSpace", "probe_ptz"]

_RESERVED = frozenset(range(33, 46)) | frozenset(range(92, 106))
_MAX_PRESETS = 300


@dataclass(frozen=True, slots=True)
class PTZSpace:
    """A channel's PTZ: its base path and position ranges (tenths of degrees / zoom)."""

    base: str
    elevation: tuple[int, int] = (-900, 900)
    azimuth: tuple[int, int] = (0, 3600)
    zoom: tuple[int, int] = (10, 10)
    presets: bool = True
    max_presets: int = 256


def _range(root: Element, space: str, axis: str, default: tuple[int, int]) -> tuple[int, int]:
    node = next(x.iter_named(root, space), None)
    rng = x.find(node, axis)
    try:
        low, high = int(x.text(rng, "Min")), int(x.text(rng, "Max"))
    except ValueError:
        return default
    return (low, high) if high > low else default


def _space(base: str, caps: Element) -> PTZSpace:
    max_text = next((n.text for n in x.iter_named(caps, "maxPresetNum") if n.text), "")
    try:
        max_presets = min(_MAX_PRESETS, int(max_text))
    except ValueError:
        max_presets = 256
    return PTZSpace(
        base=base,
        elevation=_range(caps, "AbsolutePanTiltPositionSpace", "YRange", (-900, 900)),
        azimuth=_range(caps, "AbsolutePanTiltPositionSpace", "XRange", (0, 3600)),
        zoom=_range(caps, "AbsoluteZoomSpace", "ZRange", (10, 10)),
        presets=max_presets > 0,
        max_presets=max_presets,
    )


async def probe_ptz(client: IsapiClient, channel: int, *, proxy: bool) -> PTZSpace | None:
    """The channel's PTZ space, or None when it has no PTZ."""
    bases = [f"/ISAPI/PTZCtrl/channels/{channel}"]
    if proxy:
        bases.append(f"/ISAPI/ContentMgmt/PTZCtrlProxy/channels/{channel}")
    for base in bases:
        try:
            caps = await client.get_xml(base + "/capabilities")
        except DeviceError as exc:
            if is_unsupported(exc):
                continue
            raise
        return _space(base, caps)
    return None


def _speed(value: float) -> int:
    return max(-100, min(100, round(value * 100)))


def _scale(value: float, low: int, high: int) -> int:
    return round(low + (value + 1.0) / 2.0 * (high - low))


def _unit(value: float, low: int, high: int) -> float:
    if high <= low:
        return 0.0
    return max(-1.0, min(1.0, (value - low) / (high - low) * 2.0 - 1.0))


class HikvisionPTZ(PTZDriver):
    """PTZ of one Hikvision channel (see the module docstring)."""

    def __init__(self, client: IsapiClient, space: PTZSpace) -> None:
        self._client = client
        self.space = space
        self.supports_presets = space.presets

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move at the given speeds until `stop`."""
        body = (f"<PTZData><pan>{_speed(pan)}</pan><tilt>{_speed(tilt)}</tilt>"
                f"<zoom>{_speed(zoom)}</zoom></PTZData>")
        await self._client.put_xml(self.space.base + "/continuous", body)

    async def stop(self) -> None:
        """A continuous move at speed zero."""
        await self.continuous_move(0.0, 0.0, 0.0)

    async def status(self) -> PTZStatus:
        """Position from ``AbsoluteHigh``, normalised."""
        root = await self._client.get_xml(self.space.base + "/status")
        high = next(x.iter_named(root, "AbsoluteHigh"), None)
        space = self.space

        def number(name: str) -> float:
            value = x.parse_float(x.text(high, name))
            return value if value is not None else 0.0

        zlow, zhigh = space.zoom
        zoom = (number("absoluteZoom") - zlow) / (zhigh - zlow) if zhigh > zlow else 0.0
        return PTZStatus(
            pan=_unit(number("azimuth"), *space.azimuth),
            tilt=-_unit(number("elevation"), *space.elevation),
            zoom=max(0.0, min(1.0, zoom)),
        )

    async def absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move to a normalised position (``AbsoluteHigh``)."""
        space = self.space
        zlow, zhigh = space.zoom
        body = (
            "<PTZData><AbsoluteHigh>"
            f"<elevation>{_scale(-tilt, *space.elevation)}</elevation>"
            f"<azimuth>{_scale(pan, *space.azimuth)}</azimuth>"
            f"<absoluteZoom>{round(zlow + zoom * (zhigh - zlow))}</absoluteZoom>"
            "</AbsoluteHigh></PTZData>"
        )
        await self._client.put_xml(self.space.base + "/absolute", body)

    async def presets(self) -> list[PTZPreset]:
        """The enabled presets, by id."""
        root = await self._client.get_xml(self.space.base + "/presets")
        found = []
        for node in x.iter_named(root, "PTZPreset"):
            token = x.text(node, "id")
            if not token.isdigit() or x.parse_bool(x.text(node, "enabled") or "true") is False:
                continue
            found.append(PTZPreset(token=token, name=x.text(node, "presetName")[:100]))
        return found

    async def goto_preset(self, token: str) -> None:
        """Move to preset ``token`` (its numeric id)."""
        if not token.isdigit():
            raise DeviceError(f"no preset {token[:32]!r} (Hikvision presets are numbers)",
                              scheme="hikvision", url=self._client.errors.url, code="badPreset")
        await self._client.put_xml(f"{self.space.base}/presets/{int(token)}/goto", "")

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the position in the lowest free, unreserved slot."""
        used = {int(p.token) for p in await self.presets()}
        free = next((n for n in range(1, self.space.max_presets + 1)
                     if n not in used and n not in _RESERVED), None)
        if free is None:
            raise DeviceError("every preset slot is in use", scheme="hikvision",
                              url=self._client.errors.url, code="presetsFull")
        body = (f"<PTZPreset><id>{free}</id><presetName>{x.escape(name[:64])}</presetName>"
                "<enabled>true</enabled></PTZPreset>")
        await self._client.put_xml(f"{self.space.base}/presets/{free}", body)
        return PTZPreset(token=str(free), name=name[:64])

    async def home(self) -> None:
        """Go to the home position."""
        await self._client.put_xml(self.space.base + "/homeposition/goto", "")
