"""`MotionAnalyzer`: frame differencing on small grey pictures, with numpy only.

Per analysed frame (in the detector's worker thread, never on the event loop):

1. **Downscale** the grey picture by an integer factor to about 160 pixels
   wide, averaging each block: cheap, and it averages sensor noise away.
2. **Compare with the background**, a running average of past frames. The
   current frame is first matched to the background by a global gain and
   offset (least squares, refitted without the pixels that disagree), so
   lights going on, auto exposure or an IR switch do not count as motion.
3. **Threshold** the residual at a luma difference taken from `sensitivity`
   and from the noise the detector measures (a robust spread of the
   residual), so a noisy night picture needs a bigger change than a clean
   day one. Isolated changed pixels (noise, compression artefacts) are
   dropped: a pixel counts when at least three of its 3x3 block changed.
4. **Measure each zone**: the fraction of its pixels that changed; at least
   ``min_area`` is motion. When more than half of the picture changed at
   once it is a global change (camera moved, picture switched), not motion:
   the background restarts from this frame.
5. **Update the background**, with the time constant `BACKGROUND_TAU` for
   still pixels and eight times slower for changed ones, so a moving object
   leaves no trail while one that stops is absorbed in about 40 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._zones import MotionZone, zone_raster

__all__ = [
    "BACKGROUND_TAU",
    "FrameAnalysis",
    "MotionAnalyzer",
    "ZoneMotion",
    "default_min_area",
    "downscale",
    "luma_threshold",
]

_F32 = npt.NDArray[np.float32]
_Bool2D = npt.NDArray[np.bool_]

#: Seconds for the background to take in about 63 % of a lasting change.
BACKGROUND_TAU = 5.0
#: Changed pixels adapt this many times slower (no trails behind moving objects).
_FOREGROUND_SLOWDOWN = 8.0
#: Working width in pixels (the picture is downscaled by an integer factor to at least this).
WORK_WIDTH = 160
#: More than this fraction of the picture changing at once is a global change.
_GLOBAL_CHANGE = 0.5
#: A changed pixel survives when this many of its 3x3 block (itself included) changed.
_MIN_NEIGHBOURS = 3
# Smoothing of the measured noise across frames (per analysed frame).
_NOISE_SMOOTHING = 0.1


def luma_threshold(sensitivity: float, noise: float) -> float:
    """The luma difference (0..255 scale) a pixel must exceed to count as changed.

    The larger of a floor (30 levels at sensitivity 0, 13 at 0.5, 4 at 1)
    and a multiple of the measured noise (9x, 6x, 3x).
    """
    floor = 4.0 + 26.0 * (1.0 - sensitivity) ** 1.5
    return float(max(floor, (3.0 + 6.0 * (1.0 - sensitivity)) * noise))


def default_min_area(sensitivity: float) -> float:
    """The zone fraction that must change when ``min_area`` is not given (0.01 at 0.5)."""
    return max(0.001, 0.04 * (1.0 - sensitivity) ** 2)


def downscale(gray: npt.NDArray[np.uint8], width: int = WORK_WIDTH) -> _F32:
    """Average ``k x k`` blocks, ``k`` the largest integer keeping at least ``width`` columns.

    Summed as ``2k`` strided slices in an integer accumulator: several times
    faster than ``reshape(...).mean(axis=(1, 3))``, which walks the blocks
    with a non-contiguous reduction.
    """
    height_in, width_in = gray.shape
    k = max(1, width_in // width)
    if k == 1:
        return gray.astype(np.float32)
    h, w = height_in // k, width_in // k
    acc = np.uint16 if k * k * 255 <= np.iinfo(np.uint16).max else np.uint32
    rows: npt.NDArray[np.unsignedinteger[Any]] = gray[0 : h * k : k, : w * k].astype(acc)
    for i in range(1, k):
        np.add(rows, gray[i : h * k : k, : w * k], out=rows)
    sums: npt.NDArray[np.unsignedinteger[Any]] = rows[:, 0::k].copy()
    for j in range(1, k):
        np.add(sums, rows[:, j::k], out=sums)
    out: _F32 = sums.astype(np.float32) * np.float32(1.0 / (k * k))
    return out


@dataclass(frozen=True, slots=True)
class ZoneMotion:
    """What one zone saw in one frame."""

    #: Fraction of the zone's pixels that changed (0..1).
    area: float
    #: Whether ``area`` reached ``min_area``.
    moving: bool
    #: Bounding box of the changed pixels in the zone, ``(x0, y0, x1, y1)`` normalised.
    region: tuple[float, float, float, float] | None


@dataclass(frozen=True, slots=True)
class FrameAnalysis:
    """The result of `MotionAnalyzer.analyse` for one frame."""

    #: ``warmup``: the frame started the background; ``global_change``: most of
    #: the picture changed at once and the background restarted; ``analysed``.
    state: Literal["warmup", "analysed", "global_change"]
    #: One entry per zone, in the detector's zone order.
    zones: tuple[ZoneMotion, ...]
    #: Fraction of the whole picture that changed.
    changed: float = 0.0
    #: The luma threshold used (0..255 scale).
    threshold: float = 0.0
    #: The noise estimate after this frame (luma levels, after downscaling).
    noise: float = 0.0


class MotionAnalyzer:
    """Frame differencing against a running-average background (see the module docstring).

    Not thread-safe: one thread calls `analyse`, frame after frame. ``at`` is
    the frame's time in seconds (any monotonic clock), used to adapt the
    background at the same speed whatever the frame rate.
    """

    def __init__(
        self,
        zones: Sequence[MotionZone],
        *,
        sensitivity: float,
        min_area: float,
        background_tau: float = BACKGROUND_TAU,
        work_width: int = WORK_WIDTH,
    ) -> None:
        self._zones: tuple[MotionZone | None, ...] = tuple(zones) if zones else (None,)
        self.sensitivity = sensitivity
        self.min_area = min_area
        self._tau = background_tau
        self._work_width = work_width
        self._background: _F32 | None = None
        self._rasters: tuple[_Bool2D, ...] = ()
        self._counts: tuple[int, ...] = ()
        self._last_at = 0.0
        self.noise = 0.0

    def reset(self) -> None:
        """Forget the background: the next frame starts it again."""
        self._background = None

    def analyse(self, gray: npt.NDArray[np.uint8], at: float) -> FrameAnalysis:
        """Analyse one ``H x W`` uint8 grey picture taken at ``at`` seconds."""
        if gray.ndim != 2:
            raise ValueError(f"expected an H x W grey picture, got shape {gray.shape}")
        small = downscale(gray, self._work_width)
        background = self._background
        if background is None or background.shape != small.shape:
            return self._start(small, at)
        dt = at - self._last_at
        self._last_at = at
        residual = _residual(small, background)
        sigma = _spread(residual)
        # The threshold comes from the noise measured so far: this frame's spread
        # is the change itself when most of the picture changed.
        noise = self.noise if self.noise > 0.0 else sigma
        threshold = luma_threshold(self.sensitivity, noise)
        changed = _despeckle(np.abs(residual) > threshold)
        fraction = float(changed.mean())
        if fraction > _GLOBAL_CHANGE:
            self._background = small
            return FrameAnalysis(
                "global_change",
                tuple(ZoneMotion(0.0, False, None) for _ in self._zones),
                fraction,
                threshold,
                noise,
            )
        self.noise = noise + _NOISE_SMOOTHING * (sigma - noise)
        zones = tuple(
            self._zone_motion(changed, raster, count)
            for raster, count in zip(self._rasters, self._counts, strict=True)
        )
        self._adapt(small, changed, dt)
        return FrameAnalysis("analysed", zones, fraction, threshold, self.noise)

    def _start(self, small: _F32, at: float) -> FrameAnalysis:
        h, w = small.shape
        self._background = small
        self._last_at = at
        self._rasters = tuple(zone_raster(z, w, h) for z in self._zones)
        self._counts = tuple(int(r.sum()) for r in self._rasters)
        return FrameAnalysis("warmup", tuple(ZoneMotion(0.0, False, None) for _ in self._zones))

    def _zone_motion(self, changed: _Bool2D, raster: _Bool2D, count: int) -> ZoneMotion:
        inside = changed & raster
        hits = int(np.count_nonzero(inside))
        area = hits / count
        if not hits:
            return ZoneMotion(0.0, False, None)
        h, w = inside.shape
        rows = np.flatnonzero(inside.any(axis=1))
        cols = np.flatnonzero(inside.any(axis=0))
        region = (
            round(int(cols[0]) / w, 4),
            round(int(rows[0]) / h, 4),
            round((int(cols[-1]) + 1) / w, 4),
            round((int(rows[-1]) + 1) / h, 4),
        )
        return ZoneMotion(area, area >= self.min_area, region)

    def _adapt(self, small: _F32, changed: _Bool2D, dt: float) -> None:
        background = self._background
        assert background is not None
        # Time-based, so 2 fps and keyframes every 4 s adapt at the same speed.
        alpha = 1.0 - math.exp(-max(dt, 0.0) / self._tau) if self._tau > 0 else 1.0
        rate = np.where(changed, alpha / _FOREGROUND_SLOWDOWN, alpha).astype(np.float32)
        background += rate * (small - background)


def _residual(current: _F32, background: _F32) -> _F32:
    """``current`` minus the background after the best global gain and offset.

    Fitted twice: on every pixel, then on the pixels that agreed with the
    first fit, so a moving object does not bend the fit.
    """
    x = background.ravel()
    y = current.ravel()
    gain, offset = _fit(x, y)
    first = y - (gain * x + offset)
    agree = np.abs(first) <= max(3.0 * _spread(first), 2.0)
    if int(np.count_nonzero(agree)) >= x.size // 5:
        gain, offset = _fit(x[agree], y[agree])
    out: _F32 = (current - (np.float32(gain) * background + np.float32(offset))).astype(np.float32)
    return out


def _spread(residual: _F32) -> float:
    """Robust standard deviation (1.4826 x median absolute value), from every 4th pixel."""
    sample = np.abs(residual.ravel()[::4])
    middle = sample.size // 2
    return 1.4826 * float(np.partition(sample, middle)[middle])


def _fit(x: _F32, y: _F32) -> tuple[float, float]:
    """Least-squares ``y ~ gain * x + offset``; gain kept in 0.5..2.5 (1 on a flat picture)."""
    mx, my = float(x.mean()), float(y.mean())
    xc = x - np.float32(mx)
    var = float(np.dot(xc, xc)) / x.size
    if var < 1.0:
        return 1.0, my - mx
    gain = float(np.dot(xc, y - np.float32(my))) / x.size / var
    gain = min(2.5, max(0.5, gain))
    return gain, my - gain * mx


def _despeckle(mask: _Bool2D) -> _Bool2D:
    """Keep the set pixels with at least `_MIN_NEIGHBOURS` set in their 3x3 block."""
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), dtype=np.uint8)
    padded[1:-1, 1:-1] = mask
    count = np.zeros((h, w), dtype=np.uint8)
    for dy in range(3):
        for dx in range(3):
            count += padded[dy : dy + h, dx : dx + w]
    out: _Bool2D = mask & (count >= _MIN_NEIGHBOURS)
    return out
