"""Options of the ``virtual://`` camera and hub, and the fault and event-script specs.

Every option arrives either as text from the URL query (``fps=15``,
``size=1280x720``, ``audio=1``) or as a typed keyword argument of
`camsdk.open` (``fps=15``, ``size=(1280, 720)``, ``audio=True``); the models
accept both and render themselves back to query text (`VirtualOptions.to_query`)
so a hub can hand its shared options on to the cameras it lists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast, get_args

from pydantic import Field, ValidationError, field_validator, model_validator

from camsdk.driver import ConfigurationError, DriverOptions, EventKind

from ._scene import LoopParams, ScriptedMotion

__all__ = [
    "Fault",
    "FaultKind",
    "ScriptedEvent",
    "ScriptedMotion",
    "VirtualHubOptions",
    "VirtualOptions",
    "parse_duration",
]

FaultKind = Literal["auth", "timeout", "stall_after", "drop_after", "corrupt_dts"]
_COUNTED: frozenset[str] = frozenset({"stall_after", "drop_after"})
_FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))

_DURATION_RE = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# Shorter periods would turn the event script into a busy loop.
_MIN_EVENT_PERIOD = 0.01
_BITRATE_RE = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?)\s*(?P<unit>[kKmM]?)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``"5s"``, ``"500ms"``, ``"2.5s"``, ``"1m"``, ``"1h"`` or a bare ``"3"``."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}; use e.g. 5s, 500ms, 2.5s or 1m")
    return float(match["value"]) * _UNIT_SECONDS[match["unit"] or "s"]


def _format_duration(seconds: float) -> str:
    millis = seconds * 1000
    if seconds < 1 and math.isclose(millis, round(millis), abs_tol=1e-9):
        return f"{round(millis):d}ms"
    # Shortest text that reads back exactly; parse_duration takes no exponents.
    for text in (f"{seconds:g}", repr(float(seconds)), f"{seconds:.6f}".rstrip("0").rstrip(".")):
        if "e" not in text and float(text) == seconds:
            break
    return text + "s"


@dataclass(frozen=True, slots=True)
class Fault:
    """One simulated failure, written as ``auth``, ``timeout``, ``stall_after:N``,
    ``drop_after:N`` or ``corrupt_dts``.

    ``after`` is the packet count of ``stall_after`` and ``drop_after`` (0 for
    the others).
    """

    kind: FaultKind
    after: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            known = ", ".join(sorted(_FAULT_KINDS))
            raise ValueError(f"unknown fault {self.kind!r}; known: {known}")
        if self.after < 0:
            raise ValueError(f"{self.kind} needs a packet count >= 0, got {self.after}")
        if self.after and self.kind not in _COUNTED:
            raise ValueError(f"fault {self.kind!r} takes no packet count")

    @classmethod
    def parse(cls, spec: str) -> tuple[Fault, ...]:
        """Parse one spec or a comma-separated list (``"corrupt_dts,drop_after:100"``)."""
        faults: list[Fault] = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kind, sep, count = part.partition(":")
            kind = kind.strip().lower()
            if kind not in _FAULT_KINDS:
                raise ValueError(
                    f"unknown fault {kind!r}; known: {', '.join(sorted(_FAULT_KINDS))}"
                )
            if kind in _COUNTED:
                if not sep or not count.strip().isdigit():
                    raise ValueError(f"{kind} needs a packet count, e.g. {kind}:100")
                faults.append(cls(cast(FaultKind, kind), int(count)))
            elif sep:
                raise ValueError(f"fault {kind!r} takes no argument")
            else:
                faults.append(cls(cast(FaultKind, kind)))
        return tuple(faults)

    def __str__(self) -> str:
        return f"{self.kind}:{self.after}" if self.kind in _COUNTED else self.kind


@dataclass(frozen=True, slots=True)
class ScriptedEvent:
    """One line of the event script: emit ``kind`` every ``period`` seconds.

    Written ``motion:5s`` in the URL. Each start (``active=True``) is followed
    by its end after ``min(1 s, period / 2)``.
    """

    kind: EventKind
    period: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.period) or self.period < _MIN_EVENT_PERIOD:
            raise ValueError(
                f"event period must be at least {_MIN_EVENT_PERIOD * 1000:g} ms, "
                f"got {self.period!r} s"
            )

    @property
    def hold(self) -> float:
        """Seconds from an event's start to its end."""
        return min(1.0, self.period / 2)

    @classmethod
    def parse(cls, spec: str) -> tuple[ScriptedEvent, ...]:
        """Parse ``"motion:5s,person:12s"``; an unknown kind is a `ValueError`."""
        script: list[ScriptedEvent] = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, period = part.partition(":")
            if not sep:
                raise ValueError(f"event script entry {part!r} needs a period, e.g. motion:5s")
            script.append(cls(_event_kind(name), parse_duration(period)))
        return tuple(script)

    def __str__(self) -> str:
        return f"{self.kind.value}:{_format_duration(self.period)}"


def _event_kind(name: str | EventKind) -> EventKind:
    if isinstance(name, EventKind):
        return name
    try:
        return EventKind(name.strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in EventKind)
        raise ValueError(f"unknown event kind {name!r}; known: {known}") from None


def _parse_motion(value: object) -> object:
    """``"1s-3s"`` or ``"1s-3s@0,0,0.5,1"`` -> `ScriptedMotion`; other values pass through."""
    if not isinstance(value, str):
        return value
    window, sep, box_text = value.strip().partition("@")
    start, dash, end = window.partition("-")
    if not dash:
        raise ValueError(f"motion must look like 1s-3s or 1s-3s@0,0,0.5,1, got {value!r}")
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    if sep:
        parts = box_text.split(",")
        try:
            numbers = tuple(float(p) for p in parts)
        except ValueError:
            numbers = ()
        if len(numbers) != 4:
            raise ValueError(f"motion box must be four numbers x0,y0,x1,y1, got {box_text!r}")
        box = (numbers[0], numbers[1], numbers[2], numbers[3])
    return ScriptedMotion(parse_duration(start), parse_duration(end), box)


def _parse_size(value: object) -> object:
    if isinstance(value, str):
        width, sep, height = value.strip().lower().partition("x")
        if not sep or not width.strip().isdigit() or not height.strip().isdigit():
            raise ValueError(f"size must look like 1280x720, got {value!r}")
        return (int(width), int(height))
    return value


class VirtualOptions(DriverOptions):
    """Options of a ``virtual://<name>`` camera (URL query or `camsdk.open` keywords)."""

    fps: int = Field(default=15, ge=1, le=240, description="frames per second")
    size: tuple[int, int] = Field(
        default=(1280, 720), description="main profile size, WIDTHxHEIGHT"
    )
    codec: Literal["h264", "hevc"] = Field(default="h264", description="video codec")
    gop: int | None = Field(default=None, ge=1, description="frames per GOP; None means 2 * fps")
    bitrate: int = Field(default=1_000_000, ge=1_000, description="main profile bits per second")
    audio: bool = Field(default=False, description="add an AAC mono track")
    events: tuple[ScriptedEvent, ...] = Field(
        default=(), description="event script, kind:period,..."
    )
    ptz: bool = Field(default=True, description="offer PTZ and presets")
    battery: bool = Field(default=False, description="behave as a battery camera")
    fail: tuple[Fault, ...] = Field(default=(), description="faults applied to every connection")
    loop_seconds: float = Field(default=4.0, gt=0, le=300, description="length of the encoded loop")
    realtime: bool = Field(
        default=True,
        description="pace packets in real time; 0 replays as fast as consumers take them",
    )
    scene: Literal["demo", "still"] = Field(
        default="demo",
        description="demo: moving shapes and counters; still: nothing moves, sensor noise",
    )
    motion: ScriptedMotion | None = Field(
        default=None,
        description="a square crossing the picture in each loop: START-END[@x0,y0,x1,y1]",
    )

    @field_validator("size", mode="before")
    @classmethod
    def _size_text(cls, value: object) -> object:
        return _parse_size(value)

    @field_validator("codec", mode="before")
    @classmethod
    def _codec_text(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            return "hevc" if value in {"h265", "hevc"} else value
        return value

    @field_validator("gop", mode="before")
    @classmethod
    def _gop_text(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bitrate", mode="before")
    @classmethod
    def _bitrate_text(cls, value: object) -> object:
        # "1M" and "500k" read better in a URL than 1000000.
        if isinstance(value, str) and (match := _BITRATE_RE.match(value)):
            scale = {"": 1, "k": 1_000, "m": 1_000_000}[match["unit"].lower()]
            number = float(match["value"]) * scale
            if number.is_integer():
                return int(number)
        return value

    @field_validator("events", mode="before")
    @classmethod
    def _events_text(cls, value: object) -> object:
        if isinstance(value, str):
            return ScriptedEvent.parse(value)
        if isinstance(value, Mapping):
            return tuple(
                ScriptedEvent(
                    _event_kind(kind),
                    parse_duration(period) if isinstance(period, str) else float(period),
                )
                for kind, period in value.items()
            )
        if isinstance(value, Iterable):
            return tuple(
                item
                for v in value
                for item in (ScriptedEvent.parse(v) if isinstance(v, str) else (v,))
            )
        return value

    @field_validator("motion", mode="before")
    @classmethod
    def _motion_text(cls, value: object) -> object:
        return _parse_motion(value)

    @field_validator("scene", mode="before")
    @classmethod
    def _scene_text(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("fail", mode="before")
    @classmethod
    def _fail_text(cls, value: object) -> object:
        if isinstance(value, str):
            return Fault.parse(value)
        if isinstance(value, Iterable):
            return tuple(
                item for v in value for item in (Fault.parse(v) if isinstance(v, str) else (v,))
            )
        return value

    @model_validator(mode="after")
    def _encodable(self) -> VirtualOptions:
        # Build both profiles' encoder parameters now, so a bad size or rate
        # fails when the options are read rather than when a stream opens.
        self.loop_params("main")
        self.loop_params("sub")
        return self

    @property
    def keyframe_interval(self) -> int:
        """Frames per GOP: ``gop``, or two seconds' worth when unset."""
        return self.gop if self.gop is not None else 2 * self.fps

    def profile_size(self, profile: str) -> tuple[int, int]:
        """Picture size of ``"main"`` or ``"sub"`` (half size, even, at least 16)."""
        if profile == "main":
            return self.size
        if profile == "sub":
            return (_half(self.size[0]), _half(self.size[1]))
        raise ConfigurationError(f"unknown profile {profile!r}; the virtual camera has main, sub")

    def loop_params(self, profile: str) -> LoopParams:
        """Encoder parameters of ``profile`` (``"main"`` or ``"sub"``)."""
        width, height = self.profile_size(profile)
        return LoopParams(
            width=width,
            height=height,
            fps=self.fps,
            codec=self.codec,
            gop=self.keyframe_interval,
            # A sub stream has a quarter of the pixels, so a quarter of the bits.
            bitrate=self.bitrate if profile == "main" else max(1_000, self.bitrate // 4),
            audio=self.audio,
            seconds=self.loop_seconds,
            scene=self.scene,
            motion=self.motion,
        )

    def to_query(self, *, exclude: Iterable[str] = ()) -> dict[str, str]:
        """The options given explicitly, as URL query text (parses back to equal options)."""
        skip = set(exclude)
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            if name in skip or name not in self.model_fields_set:
                continue
            value = getattr(self, name)
            if name == "size":
                out[name] = f"{value[0]}x{value[1]}"
            elif isinstance(value, bool):
                out[name] = "1" if value else "0"
            elif isinstance(value, tuple):
                out[name] = ",".join(str(v) for v in value)
            elif value is not None:
                out[name] = str(value)
        return out

    @classmethod
    def from_query(cls, values: Mapping[str, Any]) -> VirtualOptions:
        """Validate ``values``; raise `ConfigurationError` (not pydantic's error) when bad."""
        return _validate(cls, values)


class VirtualHubOptions(VirtualOptions):
    """Options of a ``virtual://<site>`` hub: the camera options plus ``cameras``."""

    cameras: int = Field(default=4, ge=0, le=64, description="how many cameras the hub lists")

    @classmethod
    def from_query(cls, values: Mapping[str, Any]) -> VirtualHubOptions:
        """Validate ``values``; raise `ConfigurationError` (not pydantic's error) when bad."""
        return _validate(cls, values)


_Options = TypeVar("_Options", bound=VirtualOptions)


def _validate(cls: type[_Options], values: Mapping[str, Any]) -> _Options:
    try:
        return cls.model_validate(dict(values))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid virtual camera options: {problems}") from exc


def _half(value: int) -> int:
    return max(16, round(value / 4) * 2)
