"""ONVIF PTZ in camsdk's normalised coordinates.

camsdk speaks pan/tilt -1..1 and zoom 0..1 for positions, -1..1 for speeds,
-2..2 (pan/tilt) and -1..1 (zoom) for relative offsets. The PTZ node
(``GetNode``) says which coordinate spaces the device supports and their
ranges; values are mapped linearly onto them and back. Speeds and offsets
are scaled per sign, so 0 stays 0 (a stop) even on an asymmetric range.
An operation whose space the node does not list raises
`UnsupportedCapabilityError` without asking the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from camsdk.driver import DeviceError, PTZDriver, PTZPreset, PTZStatus, UnsupportedCapabilityError
from camsdk.driver import xml as x

from ._ns import NS
from ._soap import SoapSession

__all__ = ["OnvifPTZ", "PTZNode", "Space", "get_node"]


@dataclass(frozen=True, slots=True)
class Space:
    """One coordinate space of a PTZ node: its URI and ranges."""

    uri: str
    x: tuple[float, float] = (-1.0, 1.0)
    y: tuple[float, float] | None = None

    @classmethod
    def parse(cls, node: Element | None) -> Space | None:
        """A ``tt:Space1DDescription``/``Space2DDescription``, or None if absent."""
        if node is None:
            return None
        x_range = _range(x.find(node, "XRange"))
        y_node = x.find(node, "YRange")
        return cls(
            uri=x.text(node, "URI"),
            x=x_range or (-1.0, 1.0),
            y=_range(y_node) if y_node is not None else None,
        )


def _range(node: Element | None) -> tuple[float, float] | None:
    low = x.parse_float(x.text(node, "Min"))
    high = x.parse_float(x.text(node, "Max"))
    if low is None or high is None or high <= low:
        return None
    return low, high


def to_position(value: float, bounds: tuple[float, float], low: float) -> float:
    """Normalised position (``low``..1) -> the device range."""
    lo, hi = bounds
    return lo + (value - low) / (1.0 - low) * (hi - lo)


def from_position(value: float, bounds: tuple[float, float], low: float) -> float:
    """Device position -> normalised ``low``..1, clamped."""
    lo, hi = bounds
    normalised = low + (value - lo) / (hi - lo) * (1.0 - low)
    return max(low, min(1.0, normalised))


def to_signed(value: float, bounds: tuple[float, float], scale: float = 1.0) -> float:
    """A signed normalised amount (``-scale``..``scale``) -> the device range, 0 kept at 0."""
    lo, hi = bounds
    fraction = value / scale
    if lo < 0 < hi:
        return fraction * (hi if fraction >= 0 else -lo)
    return lo + (fraction + 1.0) / 2.0 * (hi - lo)


@dataclass(frozen=True, slots=True)
class PTZNode:
    """What a PTZ node supports (``tt:PTZNode``)."""

    token: str
    absolute_pan_tilt: Space | None = None
    absolute_zoom: Space | None = None
    relative_pan_tilt: Space | None = None
    relative_zoom: Space | None = None
    continuous_pan_tilt: Space | None = None
    continuous_zoom: Space | None = None
    max_presets: int = 0
    home_supported: bool = False

    @classmethod
    def parse(cls, node: Element) -> PTZNode:
        """Read a ``PTZNode`` element."""
        spaces = x.find(node, "SupportedPTZSpaces")

        def space(name: str) -> Space | None:
            return Space.parse(x.find(spaces, name))

        presets = x.parse_float(x.text(node, "MaximumNumberOfPresets"))
        return cls(
            token=x.attr(node, "token"),
            absolute_pan_tilt=space("AbsolutePanTiltPositionSpace"),
            absolute_zoom=space("AbsoluteZoomPositionSpace"),
            relative_pan_tilt=space("RelativePanTiltTranslationSpace"),
            relative_zoom=space("RelativeZoomTranslationSpace"),
            continuous_pan_tilt=space("ContinuousPanTiltVelocitySpace"),
            continuous_zoom=space("ContinuousZoomVelocitySpace"),
            max_presets=int(presets) if presets is not None and presets > 0 else 0,
            home_supported=x.parse_bool(x.text(node, "HomeSupported")) is True,
        )

    @property
    def can_move(self) -> bool:
        """Whether the node lists any space at all."""
        return any(
            (
                self.absolute_pan_tilt,
                self.absolute_zoom,
                self.relative_pan_tilt,
                self.relative_zoom,
                self.continuous_pan_tilt,
                self.continuous_zoom,
            )
        )


async def get_node(session: SoapSession, xaddr: str, token: str) -> PTZNode | None:
    """The node ``token`` (``GetNode``), else the first of ``GetNodes``; None if there is none."""
    if token:
        try:
            answer = await session.call(
                xaddr,
                "GetNode",
                f"<tptz:GetNode><tptz:NodeToken>{x.escape(token)}</tptz:NodeToken></tptz:GetNode>",
                action=f"{NS['tptz']}/GetNode",
            )
            node = x.find(answer, "PTZNode")
            if node is not None:
                return PTZNode.parse(node)
        except (DeviceError, UnsupportedCapabilityError):
            pass  # some firmware implements only GetNodes
    answer = await session.call(
        xaddr, "GetNodes", "<tptz:GetNodes/>", action=f"{NS['tptz']}/GetNodes"
    )
    nodes = x.findall(answer, "PTZNode")
    chosen = next((n for n in nodes if x.attr(n, "token") == token), nodes[0] if nodes else None)
    return PTZNode.parse(chosen) if chosen is not None else None


def _vector(tag: str, space: Space | None, values: tuple[float, ...]) -> str:
    if space is None:
        return ""
    where = f" space={x.quoteattr(space.uri)}" if space.uri else ""
    if tag == "PanTilt":
        return f'<tt:PanTilt x="{values[0]:.6g}" y="{values[1]:.6g}"{where}/>'
    return f'<tt:Zoom x="{values[0]:.6g}"{where}/>'


class OnvifPTZ(PTZDriver):
    """PTZ of one ONVIF profile (see the module docstring for the coordinate mapping)."""

    def __init__(
        self,
        *,
        session: SoapSession,
        xaddr: str,
        profile_token: str,
        node: PTZNode,
        move_timeout: float | None = None,
    ) -> None:
        self._session = session
        self._xaddr = xaddr
        self._profile = profile_token
        self.node = node
        self.move_timeout = move_timeout
        self.supports_presets = node.max_presets > 0

    def _unsupported(self, what: str) -> UnsupportedCapabilityError:
        return UnsupportedCapabilityError(
            f"this PTZ node does not support {what}", scheme="onvif", url=self._session.shown
        )

    async def _call(self, operation: str, inner: str) -> Element:
        body = (
            f"<tptz:{operation}><tptz:ProfileToken>{x.escape(self._profile)}</tptz:ProfileToken>"
            f"{inner}</tptz:{operation}>"
        )
        return await self._session.call(
            self._xaddr, operation, body, action=f"{NS['tptz']}/{operation}"
        )

    def _signed_axes(
        self,
        pt: Space | None,
        zs: Space | None,
        amounts: tuple[float, float, float],
        pan_tilt_scale: float,
        what: str,
    ) -> str:
        """Velocity or translation vectors; refuses axes the node has no space for."""
        pan, tilt, zoom = amounts
        parts = ""
        if pt is not None:
            scale = pan_tilt_scale
            values = (to_signed(pan, pt.x, scale), to_signed(tilt, pt.y or pt.x, scale))
            parts += _vector("PanTilt", pt, values)
        elif pan or tilt:
            raise self._unsupported(f"{what} pan/tilt")
        if zs is not None:
            parts += _vector("Zoom", zs, (to_signed(zoom, zs.x),))
        elif zoom:
            raise self._unsupported(f"{what} zoom")
        if not parts:
            raise self._unsupported(f"{what} moves")
        return parts

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move at the given speeds until `stop` (or the device's ``move_timeout``)."""
        node = self.node
        velocity = self._signed_axes(
            node.continuous_pan_tilt, node.continuous_zoom, (pan, tilt, zoom), 1.0, "continuous"
        )
        timeout = (
            f"<tptz:Timeout>{x.format_duration(self.move_timeout)}</tptz:Timeout>"
            if self.move_timeout
            else ""
        )
        await self._call("ContinuousMove", f"<tptz:Velocity>{velocity}</tptz:Velocity>{timeout}")

    async def stop(self) -> None:
        """Stop pan, tilt and zoom."""
        await self._call("Stop", "<tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom>")

    async def absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move to pan/tilt (-1..1) and zoom (0..1) in the node's absolute spaces."""
        node = self.node
        pt, zs = node.absolute_pan_tilt, node.absolute_zoom
        parts = ""
        if pt is not None:
            parts += _vector(
                "PanTilt", pt, (to_position(pan, pt.x, -1.0), to_position(tilt, pt.y or pt.x, -1.0))
            )
        if zs is not None:
            parts += _vector("Zoom", zs, (to_position(zoom, zs.x, 0.0),))
        if not parts:
            raise self._unsupported("absolute moves")
        await self._call("AbsoluteMove", f"<tptz:Position>{parts}</tptz:Position>")

    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move by pan/tilt offsets (-2..2) and a zoom offset (-1..1)."""
        node = self.node
        translation = self._signed_axes(
            node.relative_pan_tilt, node.relative_zoom, (pan, tilt, zoom), 2.0, "relative"
        )
        await self._call("RelativeMove", f"<tptz:Translation>{translation}</tptz:Translation>")

    async def status(self) -> PTZStatus:
        """Position (normalised through the absolute spaces) and whether it moves."""
        answer = await self._call("GetStatus", "")
        status = x.find(answer, "PTZStatus")
        pt_space = self.node.absolute_pan_tilt
        zoom_space = self.node.absolute_zoom
        pan_tilt = x.find(status, "Position", "PanTilt")
        zoom_el = x.find(status, "Position", "Zoom")
        pt_x, pt_y = (pt_space.x, pt_space.y or pt_space.x) if pt_space else ((-1.0, 1.0),) * 2
        zoom_range = zoom_space.x if zoom_space else (0.0, 1.0)

        def coordinate(node: Element | None, name: str) -> float | None:
            return x.parse_float(x.attr(node, name))

        pan = coordinate(pan_tilt, "x")
        tilt = coordinate(pan_tilt, "y")
        zoom = coordinate(zoom_el, "x")
        moving = any(
            x.text(status, "MoveStatus", axis).upper() not in ("", "IDLE")
            for axis in ("PanTilt", "Zoom")
        )
        return PTZStatus(
            pan=from_position(pan, pt_x, -1.0) if pan is not None else 0.0,
            tilt=from_position(tilt, pt_y, -1.0) if tilt is not None else 0.0,
            zoom=from_position(zoom, zoom_range, 0.0) if zoom is not None else 0.0,
            moving=moving,
        )

    async def presets(self) -> list[PTZPreset]:
        """The stored presets (``GetPresets``)."""
        if not self.supports_presets:
            raise self._unsupported("presets")
        answer = await self._call("GetPresets", "")
        return [
            PTZPreset(token=x.attr(node, "token"), name=x.text(node, "Name"))
            for node in x.findall(answer, "Preset")
            if x.attr(node, "token")
        ]

    async def goto_preset(self, token: str) -> None:
        """Move to preset ``token``."""
        if not self.supports_presets:
            raise self._unsupported("presets")
        await self._call("GotoPreset", f"<tptz:PresetToken>{x.escape(token)}</tptz:PresetToken>")

    async def set_preset(self, name: str) -> PTZPreset:
        """Store the current position as a new preset called ``name``."""
        if not self.supports_presets:
            raise self._unsupported("presets")
        answer = await self._call(
            "SetPreset", f"<tptz:PresetName>{x.escape(name)}</tptz:PresetName>"
        )
        return PTZPreset(token=x.text(answer, "PresetToken"), name=name)

    async def home(self) -> None:
        """Move to the home position."""
        if not self.node.home_supported:
            raise self._unsupported("a home position")
        await self._call("GotoHomePosition", "")
