"""`MotionZone`: a named area of the picture that software motion watches on its own.

A zone is a polygon in normalised coordinates (``0 <= x, y <= 1``, origin top
left), like a `camsdk.privacy.PrivacyMask`, so one zone fits every stream
profile; it is rasterised with the masks' rasteriser at the detector's
working size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._errors import ConfigurationError
from ..privacy._masks import _signed_area, rasterize

__all__ = ["MAX_ZONES", "MotionZone", "parse_zones", "zone_raster"]

#: More zones than a person can set up sensibly; each costs a little per frame.
MAX_ZONES = 32
_MAX_POINTS = 256
# Zone names end up in event fields, MQTT topics and entity ids.
_FORBIDDEN_IN_NAME = frozenset("/+#")


class MotionZone(BaseModel):
    """A named polygon of the picture, in normalised coordinates (top left origin).

    At least three points, not all on one line; self-intersecting polygons
    are filled by the even-odd rule. ``name`` (1-64 characters, no ``/``,
    ``+``, ``#`` or control characters) becomes the ``zone`` of the events
    the zone raises. Invalid values raise `camsdk.ConfigurationError`.
    """

    model_config = ConfigDict(frozen=True)

    polygon: tuple[tuple[float, float], ...] = Field(min_length=3, max_length=_MAX_POINTS)
    name: str = Field(min_length=1, max_length=64)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigurationError(f"invalid motion zone: {_problems(exc)}") from exc

    @field_validator("polygon")
    @classmethod
    def _check_polygon(
        cls, points: tuple[tuple[float, float], ...]
    ) -> tuple[tuple[float, float], ...]:
        for x, y in points:
            if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"zone point ({x}, {y}) is outside 0..1")
        if abs(_signed_area(points)) < 1e-9:
            raise ValueError("zone polygon has no area (its points lie on one line)")
        return points

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        name = name.strip()
        if not name:
            raise ValueError("zone name is empty")
        if any(c in _FORBIDDEN_IN_NAME or not c.isprintable() for c in name):
            raise ValueError("zone name may not contain '/', '+', '#' or control characters")
        return name

    @classmethod
    def rectangle(cls, x0: float, y0: float, x1: float, y1: float, name: str) -> MotionZone:
        """A rectangle from its top-left ``(x0, y0)`` and bottom-right ``(x1, y1)`` corners."""
        return cls(polygon=((x0, y0), (x1, y0), (x1, y1), (x0, y1)), name=name)

    @property
    def area(self) -> float:
        """Area in normalised units (a fraction of the picture, ignoring self-overlap)."""
        return abs(_signed_area(self.polygon))


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'zone'}: {err['msg']}" for err in exc.errors()
    )


def parse_zones(zones: object, *, url: str | None = None) -> tuple[MotionZone, ...]:
    """Validate the ``zones`` argument: `MotionZone` objects or mappings with the same fields.

    ``None`` means the whole picture (an empty tuple). Names must be unique.
    """
    if zones is None:
        return ()
    if isinstance(zones, str | bytes | Mapping) or not isinstance(zones, Iterable):
        raise ConfigurationError("zones must be a list of camsdk.MotionZone", url=url)
    out: list[MotionZone] = []
    for zone in zones:
        if len(out) == MAX_ZONES:
            raise ConfigurationError(f"at most {MAX_ZONES} motion zones", url=url)
        if isinstance(zone, MotionZone):
            out.append(zone)
        elif isinstance(zone, Mapping):
            try:
                out.append(MotionZone(**dict(zone)))
            except ConfigurationError as exc:
                raise ConfigurationError(exc.message, url=url) from exc
            except TypeError as exc:  # keys that are not strings
                message = "a zone mapping needs 'polygon' and 'name'"
                raise ConfigurationError(message, url=url) from exc
        else:
            raise ConfigurationError(
                f"zones must be camsdk.MotionZone objects, got {type(zone).__name__}", url=url
            )
    if not out:
        raise ConfigurationError(
            "zones is empty: give at least one zone, or None to watch the whole picture", url=url
        )
    names = [z.name for z in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"motion zone names must be unique: {duplicates}", url=url)
    return tuple(out)


def zone_raster(zone: MotionZone | None, width: int, height: int) -> npt.NDArray[np.bool_]:
    """The pixels of a ``height x width`` picture inside ``zone`` (``None``: all of them).

    A zone too small to cover any pixel centre at this size still gets the
    pixel under its centroid, so it can see motion at all.
    """
    if zone is None:
        return np.ones((height, width), dtype=np.bool_)
    raster = rasterize(zone.polygon, width, height)
    if not raster.any():
        xs, ys = zip(*zone.polygon, strict=True)
        cx = min(width - 1, int(sum(xs) / len(xs) * width))
        cy = min(height - 1, int(sum(ys) / len(ys) * height))
        raster[cy, cx] = True
    return raster


def zone_names(zones: Sequence[MotionZone]) -> tuple[str | None, ...]:
    """The ``zone`` field of each zone's events (``None``: the whole picture)."""
    return tuple(z.name for z in zones) if zones else (None,)
