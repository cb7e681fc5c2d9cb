"""Privacy masks: polygons blacked out of decoded frames and snapshots.

A `PrivacyMask` is a polygon in normalised coordinates (0..1, origin top
left), so one mask fits every stream profile of a camera. `MaskSet` paints
the union of its masks solid black onto a *copy* of a frame: the shared
decoder frame is read by every consumer and must never change under them.

Rasterisation is done once per (masks, size, pixel format) and cached: a pixel
is masked when its centre lies inside a polygon (even-odd rule), computed for
all rows and edges at once with numpy. Chroma planes, subsampled, mask every
sample that touches a masked luma pixel, so no colour of a masked area leaks
along its edge. The per-frame work is then a plane copy plus, per mask, one
slice assignment (a box the mask fills, such as a rectangle) or two
vectorised byte operations over its bounding box, ``(pixel & keep) | fill``,
about twice as fast as ``np.copyto(where=...)`` and far faster than a
whole-frame fill.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._errors import StreamDecodeError

if TYPE_CHECKING:  # pragma: no cover - av is imported on first use
    import av

__all__ = ["MaskSet", "PrivacyMask"]

_Bool2D = npt.NDArray[np.bool_]
_U8 = npt.NDArray[np.uint8]

_MAX_POINTS = 1024
_CACHE_SIZE = 32


class PrivacyMask(BaseModel):
    """A polygon to black out, in normalised coordinates (``0 <= x, y <= 1``, top left origin).

    At least three points, not all on one line. Self-intersecting polygons are
    filled by the even-odd rule.
    """

    model_config = ConfigDict(frozen=True)

    points: tuple[tuple[float, float], ...] = Field(min_length=3, max_length=_MAX_POINTS)
    label: str = Field(default="", max_length=200)

    @field_validator("points")
    @classmethod
    def _check_points(
        cls, points: tuple[tuple[float, float], ...]
    ) -> tuple[tuple[float, float], ...]:
        for x, y in points:
            if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"mask point ({x}, {y}) is outside 0..1")
        if abs(_signed_area(points)) < 1e-12:
            raise ValueError("mask polygon has no area (its points lie on one line)")
        return points

    @classmethod
    def rectangle(cls, x0: float, y0: float, x1: float, y1: float, label: str = "") -> PrivacyMask:
        """A rectangle from its top-left ``(x0, y0)`` and bottom-right ``(x1, y1)`` corners."""
        return cls(points=((x0, y0), (x1, y0), (x1, y1), (x0, y1)), label=label)

    @property
    def area(self) -> float:
        """Area in normalised units (a fraction of the picture, ignoring self-overlap)."""
        return abs(_signed_area(self.points))


def _signed_area(points: Sequence[tuple[float, float]]) -> float:
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, (*points[1:], points[0]), strict=True):
        total += x0 * y1 - x1 * y0
    return total / 2.0


def rasterize(points: Sequence[tuple[float, float]], width: int, height: int) -> _Bool2D:
    """Rasterise one normalised polygon to a ``height x width`` boolean mask (even-odd).

    Every row's crossings with every edge are found at once; a crossing at
    ``x`` flips the parity of all pixels whose centre is at or right of ``x``,
    which a bincount plus a cumulative sum along the row turns into spans.
    """
    pts = np.asarray(points, dtype=np.float64)
    x0, y0 = pts[:, 0] * width, pts[:, 1] * height
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    centres = np.arange(height, dtype=np.float64)[:, None] + 0.5
    # Half-open on y so a vertex shared by two edges is counted once.
    crosses = ((y0 <= centres) & (centres < y1)) | ((y1 <= centres) & (centres < y0))
    rows, edges = np.nonzero(crosses)
    ex0, ey0, ex1, ey1 = x0[edges], y0[edges], x1[edges], y1[edges]
    xs = ex0 + (rows + 0.5 - ey0) * (ex1 - ex0) / (ey1 - ey0)
    # First pixel whose centre (j + 0.5) is at or right of the crossing.
    cols = np.clip(np.ceil(xs - 0.5), 0, width).astype(np.int64)
    flips = np.bincount(rows * (width + 1) + cols, minlength=height * (width + 1))
    # uint8 wraps at 256, which keeps parity and moves an eighth of the bytes.
    counts = np.cumsum(flips.astype(np.uint8).reshape(height, width + 1), axis=1, dtype=np.uint8)
    inside: _Bool2D = (counts[:, :width] & 1).astype(np.bool_)
    return inside


def _pool_any(mask: _Bool2D, shift_x: int, shift_y: int) -> _Bool2D:
    """Subsample a mask by 2**shift in each direction, a sample being set if any source is."""
    if not shift_x and not shift_y:
        return mask
    fy, fx = 1 << shift_y, 1 << shift_x
    h, w = mask.shape
    ph, pw = -(-h // fy), -(-w // fx)
    padded = np.zeros((ph * fy, pw * fx), dtype=np.bool_)
    padded[:h, :w] = mask
    return np.asarray(padded.reshape(ph, fy, pw, fx).any(axis=(1, 3)), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class _PlaneLayout:
    """How to black out one plane: its subsampling and the bytes of one black sample."""

    shift_x: int
    shift_y: int
    fill: tuple[int, ...]


_Y_LIMITED, _Y_FULL, _C = (16,), (0,), (128,)
#: Planar YUV formats and their chroma subsampling (log2 of x, y factors).
_PLANAR_YUV = {
    "yuv420p": (1, 1),
    "yuvj420p": (1, 1),
    "yuv422p": (1, 0),
    "yuvj422p": (1, 0),
    "yuv444p": (0, 0),
    "yuvj444p": (0, 0),
}
_PACKED: dict[str, tuple[int, ...]] = {
    "gray": (0,),
    "rgb24": (0, 0, 0),
    "bgr24": (0, 0, 0),
    "rgba": (0, 0, 0, 255),
    "bgra": (0, 0, 0, 255),
    "argb": (255, 0, 0, 0),
    "abgr": (255, 0, 0, 0),
}


def _layout(fmt: str, full_range: bool) -> tuple[_PlaneLayout, ...] | None:
    """Plane layouts for the formats masked natively, else ``None``."""
    if fmt in _PACKED:
        return (_PlaneLayout(0, 0, _PACKED[fmt]),)
    luma = _Y_FULL if full_range or fmt.startswith("yuvj") else _Y_LIMITED
    if fmt in ("nv12", "nv21"):
        return (_PlaneLayout(0, 0, luma), _PlaneLayout(1, 1, _C * 2))
    if fmt in _PLANAR_YUV:
        chroma = _PlaneLayout(*_PLANAR_YUV[fmt], _C)
        return (_PlaneLayout(0, 0, luma), chroma, chroma)
    return None


@dataclass(frozen=True, slots=True)
class _Patch:
    """Precomputed work for one mask on one plane: its bounding box and byte patterns.

    A box the mask covers entirely (rectangles, the usual case) is one slice
    assignment of ``solid``, the black row. Otherwise each sample in the box
    becomes ``(sample & keep) | fill``: keep is 0x00 where masked and 0xFF
    elsewhere, fill the black sample where masked and 0 elsewhere (``None``
    when black is all zero bytes). Patches of overlapping masks may overlap;
    applying them in any order gives the same bytes.
    """

    rows: slice
    cols: slice  # in bytes, not pixels
    solid: _U8 | None
    keep: _U8 | None
    fill: _U8 | None

    def paint(self, plane: _U8) -> None:
        """Black out this patch's samples in ``plane`` (a writable plane view)."""
        box = plane[self.rows, self.cols]
        if self.solid is not None:
            box[...] = self.solid
        elif self.keep is not None:
            np.bitwise_and(box, self.keep, out=box)
            if self.fill is not None:
                np.bitwise_or(box, self.fill, out=box)


def _patch(mask: _Bool2D, layout: _PlaneLayout) -> _Patch | None:
    plane_mask = _pool_any(mask, layout.shift_x, layout.shift_y)
    rows = np.flatnonzero(plane_mask.any(axis=1))
    cols = np.flatnonzero(plane_mask.any(axis=0))
    if rows.size == 0:
        return None
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    group = len(layout.fill)
    box = np.repeat(plane_mask[r0:r1, c0:c1], group, axis=1)
    black = np.tile(np.asarray(layout.fill, dtype=np.uint8), c1 - c0)
    solid = keep = fill = None
    if box.all():
        solid = black
    else:
        keep = np.where(box, np.uint8(0), np.uint8(255)).astype(np.uint8)
        if any(layout.fill):
            fill = np.where(box, black[None, :], np.uint8(0)).astype(np.uint8)
    for arr in (solid, keep, fill):
        if arr is not None:
            arr.flags.writeable = False  # cached and shared between threads
    return _Patch(slice(r0, r1), slice(c0 * group, c1 * group), solid, keep, fill)


#: (masks, width, height, plane layouts; empty for the plain boolean mask)
_CacheKey = tuple[tuple["PrivacyMask", ...], int, int, tuple[_PlaneLayout, ...]]
_T = TypeVar("_T")
_cache: OrderedDict[_CacheKey, Any] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(key: _CacheKey, build: Callable[[], _T]) -> _T:
    """A small LRU shared by all mask sets, keyed by masks, size and format."""
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached  # type: ignore[no-any-return]
    # Build outside the lock: rasterising a large frame takes milliseconds.
    value = build()
    with _cache_lock:
        _cache[key] = value
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def _plane_view(plane: Any, rows: int, row_bytes: int) -> _U8:
    """A ``rows x row_bytes`` numpy view of a PyAV plane, skipping its line padding."""
    stride = int(plane.line_size)
    if stride < row_bytes:
        raise ValueError("frames with negative or short line sizes are not supported")
    view: _U8 = np.ndarray((rows, row_bytes), dtype=np.uint8, buffer=plane, strides=(stride, 1))
    return view


class MaskSet:
    """The union of some privacy masks, applied to frames, arrays and JPEG snapshots.

    Cheap to build: rasterised masks are cached per (masks, size, format)
    across all mask sets, so the facade may combine the camera's masks with a
    grant's masks for every decision.
    """

    __slots__ = ("_masks",)

    def __init__(self, masks: Iterable[PrivacyMask] = ()) -> None:
        # Deduplicated, order kept: the order is part of the cache key.
        self._masks: tuple[PrivacyMask, ...] = tuple(dict.fromkeys(masks))
        for mask in self._masks:
            if not isinstance(mask, PrivacyMask):
                raise TypeError(f"expected PrivacyMask, got {type(mask).__name__}")

    @property
    def masks(self) -> tuple[PrivacyMask, ...]:
        """The masks in this set."""
        return self._masks

    def __len__(self) -> int:
        return len(self._masks)

    def __bool__(self) -> bool:
        return bool(self._masks)

    def __iter__(self) -> Iterator[PrivacyMask]:
        return iter(self._masks)

    def __repr__(self) -> str:
        labels = ", ".join(m.label or f"{len(m.points)}-gon" for m in self._masks)
        return f"MaskSet([{labels}])"

    def mask(self, width: int, height: int) -> _Bool2D:
        """The ``height x width`` boolean mask (True = blacked out); cached, read-only."""
        if width <= 0 or height <= 0:
            raise ValueError(f"invalid picture size {width}x{height}")

        def build() -> _Bool2D:
            out = np.zeros((height, width), dtype=np.bool_)
            for m in self._masks:
                out |= rasterize(m.points, width, height)
            out.flags.writeable = False
            return out

        return _cached((self._masks, width, height, ()), build)

    def _patches(
        self, width: int, height: int, layouts: tuple[_PlaneLayout, ...]
    ) -> tuple[tuple[_Patch, ...], ...]:
        """Per plane, one patch per mask (its own box, so scattered masks touch little)."""

        def build() -> tuple[tuple[_Patch, ...], ...]:
            rasters = [MaskSet([m]).mask(width, height) for m in self._masks]
            per_plane = ((_patch(r, layout) for r in rasters) for layout in layouts)
            return tuple(tuple(p for p in patches if p is not None) for patches in per_plane)

        return _cached((self._masks, width, height, layouts), build)

    def apply(self, frame: av.VideoFrame, *, in_place: bool = False) -> av.VideoFrame:
        """Return a new frame with the masks filled black; ``frame`` is left untouched.

        yuv 4:2:0/4:2:2/4:4:4 (planar, ``yuvj`` too), nv12/nv21, rgb24, bgr24,
        rgba-family and gray are masked natively (limited-range luma black is
        16, full range 0, chroma 128). Other formats are converted to yuv420p
        (or rgb24 when not YUV) first. An empty set returns ``frame`` itself.

        ``in_place=True`` masks ``frame`` itself and returns it, saving the
        copy (most of the cost). Only for a frame no one else holds, such as
        the fresh output of ``frame.reformat(...)``; never for a decoder's
        frame shared by several consumers. FFmpeg-level sharing (a decoder
        keeping a reference frame) is handled: such buffers are copied first.
        """
        import av

        if not self._masks:
            return frame
        fmt = frame.format.name
        full_range = int(frame.color_range) == 2  # AVCOL_RANGE_JPEG
        layouts = _layout(fmt, full_range)
        if layouts is None:
            fmt = "yuv420p" if "yuv" in fmt else "rgb24"
            frame = frame.reformat(format=fmt)
            in_place = True  # the converted frame is ours alone
            layouts = _layout(fmt, full_range)
            assert layouts is not None
        width, height = frame.width, frame.height
        plane_patches = self._patches(width, height, layouts)
        if in_place:
            frame.make_writable()
            out = frame
        else:
            out = av.VideoFrame(width, height, fmt)
        # `.planes` builds new plane objects on every access: take each tuple once.
        planes = zip(layouts, plane_patches, frame.planes, out.planes, strict=True)
        for layout, patches, src_plane, dst_plane in planes:
            rows = -(-height // (1 << layout.shift_y))
            row_bytes = -(-width // (1 << layout.shift_x)) * len(layout.fill)
            dst = _plane_view(dst_plane, rows, row_bytes)
            if out is not frame:
                np.copyto(dst, _plane_view(src_plane, rows, row_bytes))
            for patch in patches:
                patch.paint(dst)
        if out is not frame:
            _copy_frame_properties(frame, out)
        return out

    def apply_ndarray(self, image: npt.NDArray[Any], *, fill: int | float = 0) -> npt.NDArray[Any]:
        """A copy of ``image`` (``H x W`` or ``H x W x C``) with masked pixels set to ``fill``."""
        if image.ndim not in (2, 3):
            raise ValueError(f"expected an H x W or H x W x C image, got shape {image.shape}")
        out = image.copy()
        if self._masks:
            mask = self.mask(image.shape[1], image.shape[0])
            out[mask] = fill
        return out

    def apply_jpeg(self, jpeg: bytes, *, quality: int = 3) -> bytes:
        """Decode a JPEG snapshot, mask it and encode it again (``quality``: 1 best .. 31).

        Raises `StreamDecodeError` when the bytes are not a decodable JPEG:
        an undecodable picture is never passed on unmasked.
        """
        import av

        if not self._masks:
            return jpeg
        try:
            decoder = av.CodecContext.create("mjpeg", "r")
            frames = decoder.decode(av.Packet(jpeg))
            if not frames:
                frames = decoder.decode(None)
        except av.FFmpegError as exc:
            raise StreamDecodeError("snapshot is not a decodable JPEG") from exc
        if not frames:
            raise StreamDecodeError("snapshot is not a decodable JPEG")
        picture = frames[0]
        if not isinstance(picture, av.VideoFrame):  # pragma: no cover - mjpeg only yields video
            raise StreamDecodeError("snapshot is not a picture")
        masked = self.apply(picture)
        fmt = masked.format.name
        if fmt not in ("yuvj420p", "yuvj422p", "yuvj444p"):
            fmt = "yuvj420p"
            masked = masked.reformat(format=fmt)
        return _encode_jpeg(masked, fmt, quality)


def _encode_jpeg(frame: av.VideoFrame, pix_fmt: str, quality: int) -> bytes:
    import av
    from av.codec.context import Flags

    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = pix_fmt
    encoder.time_base = frame.time_base or Fraction(1, 1)
    # Constant quantiser: the default bitrate mode would blur a full-size still.
    encoder.flags |= Flags.qscale
    encoder.global_quality = max(1, min(31, quality)) * 118  # FF_QP2LAMBDA
    frame.pts = None
    packets = [*encoder.encode(frame), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)


def _copy_frame_properties(src: av.VideoFrame, dst: av.VideoFrame) -> None:
    dst.pts = src.pts
    if src.time_base is not None:
        dst.time_base = src.time_base
    dst.color_range = src.color_range
    dst.colorspace = src.colorspace
    dst.pict_type = src.pict_type
