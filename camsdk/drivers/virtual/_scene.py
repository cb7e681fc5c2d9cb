"""Synthetic scene encoder behind the built-in ``virtual://`` camera.

`encoded_loop` renders a short, seamlessly looping test scene and encodes it
once, so the virtual camera can replay real compressed packets forever at no
further encoding cost. The scene is

* a diagonal background gradient that drifts a whole number of cycles per loop,
* a few coloured rectangles and discs on sinusoidal paths (integer periods per
  loop, so the last frame runs smoothly into the first),
* a large frame counter and loop timestamp drawn with a built-in 7-segment
  font (no font files), and a progress bar along the bottom edge.

``scene="still"`` renders a view where nothing moves instead: the gradient
and the shapes frozen where they start, no counters, and fresh sensor-like
noise on the luma of every frame (so the encoder adds real compression
artefacts). A `ScriptedMotion` adds a bright square that crosses a box of
the picture during a window of each loop, to either scene.

Frames are rendered straight into ``yuv420p`` numpy buffers (BT.601 limited
range) and encoded with PyAV: libx264 or libx265 at ``ultrafast``/``zerolatency``,
no B-frames (decode order == presentation order), an IDR exactly every
``gop`` frames, extradata from the global header, and the parameter sets
repeated in-band on every keyframe so a decoder can join at any keyframe.
The optional audio track is a quiet 437.5 Hz tone, AAC-LC mono 16 kHz 32 kb/s,
whose period divides the 1024-sample AAC frame so it loops without a click.

Results are cached in memory per `LoopParams` (one encode even when several
threads ask at once) and on disk, in ``$CAMSDK_CACHE_DIR``, else
``$XDG_CACHE_HOME/camsdk``, else ``~/.cache/camsdk``. The disk format is a
magic line, a length-prefixed JSON header and the raw payloads; a damaged file
is ignored and replaced.

Measured cost of a cold `encoded_loop` (4 s @ 15 fps, 1 Mb/s, 2-core VM,
PyAV 18.1, FFmpeg 8): 320x240 h264 ~0.06 s, hevc ~0.3 s; 1920x1080 h264
~1.1 s, hevc ~2.7 s (rendering is ~7 ms of each 1080p frame); audio adds
~0.01 s. Loading from the disk cache takes about a millisecond.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
import threading
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.codec.context import Flags
from av.video.frame import PictureType

from camsdk.driver import MediaPacket, StreamInfo, get_logger

__all__ = ["SCENES", "EncodedLoop", "LoopParams", "ScriptedMotion", "encoded_loop"]

_log = get_logger(__name__)

_Plane = npt.NDArray[np.uint8]

# Clock of every video timestamp, as in RTP and MPEG-TS.
_VIDEO_CLOCK = 90_000
_VIDEO_TIME_BASE = Fraction(1, _VIDEO_CLOCK)
_AUDIO_RATE = 16_000
_AUDIO_TIME_BASE = Fraction(1, _AUDIO_RATE)
_AUDIO_BITRATE = 32_000
_AAC_FRAME = 1024
# 437.5 Hz = 28 cycles per AAC frame: every frame holds the same waveform.
_TONE_HZ = 28 * _AUDIO_RATE / _AAC_FRAME
_TONE_AMPLITUDE = 0.05  # about -26 dBFS: audible, not annoying

_CODECS = {"h264": "libx264", "hevc": "libx265"}
_MAX_DIMENSION = 8192
_MAX_FPS = 240

# Bump whenever the scene, the encoder settings or the file layout change.
_FORMAT_VERSION = 1
_MAGIC = b"CAMSDK-LOOP\n"

#: The scenes `LoopParams.scene` may name.
SCENES = ("demo", "still")
# Luma noise of the still scene: a little more than a good camera in daylight.
_STILL_NOISE_SIGMA = 3.0
_MOTION_Y = 220  # the scripted square: bright on the mid-grey gradient
_MOTION_SIZE = 0.3  # its side, as a fraction of the box height
_HEADER_LEN = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class ScriptedMotion:
    """A square crossing ``box`` from left to right, from ``start`` to ``end`` s of each loop.

    ``box`` is ``(x0, y0, x1, y1)`` in normalised picture coordinates. Written
    ``START-END[@x0,y0,x1,y1]`` in a URL, e.g. ``1s-3s@0,0,0.5,1``.
    """

    start: float
    end: float
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        numbers = (self.start, self.end, *self.box)
        if len(self.box) != 4 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in numbers
        ):
            raise ValueError("scripted motion needs finite numbers: start, end and a 4-number box")
        if not 0 <= self.start < self.end:
            raise ValueError(f"scripted motion must start >= 0 and end after it starts: {self}")
        x0, y0, x1, y1 = self.box
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise ValueError(
                f"scripted motion box must be x0,y0,x1,y1 with 0 <= x0 < x1 <= 1 "
                f"and 0 <= y0 < y1 <= 1, got {self.box}"
            )

    def frames(self, fps: int) -> range:
        """Indices of the loop frames that show the square."""
        first = math.ceil(Fraction(str(float(self.start))) * fps)
        last = math.ceil(Fraction(str(float(self.end))) * fps)
        return range(first, last)

    def __str__(self) -> str:
        text = f"{self.start:g}s-{self.end:g}s"
        if self.box != (0.0, 0.0, 1.0, 1.0):
            text += "@" + ",".join(f"{v:g}" for v in self.box)
        return text


@dataclass(frozen=True, slots=True)
class LoopParams:
    """What to encode: picture size, rate, codec, GOP, bitrate and length.

    Invalid values raise `ValueError` at construction. Width and height must
    be even (``yuv420p`` subsamples chroma by two in both directions).
    """

    width: int = 1280
    height: int = 720
    fps: int = 15
    #: ``"h264"`` or ``"hevc"``.
    codec: str = "h264"
    #: Frames per GOP: the keyframe interval, exact.
    gop: int = 30
    #: Target video bitrate in bits per second.
    bitrate: int = 1_000_000
    #: Add an AAC mono 16 kHz track.
    audio: bool = False
    #: Loop length in seconds, rounded up to whole GOPs.
    seconds: float = 4.0
    #: ``"demo"`` (moving shapes, counters) or ``"still"`` (nothing moves; sensor noise).
    scene: str = "demo"
    #: A square that crosses part of the picture during a window of each loop.
    motion: ScriptedMotion | None = None

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not _is_int(value) or not 16 <= value <= _MAX_DIMENSION:
                raise ValueError(
                    f"{name} must be an integer in 16..{_MAX_DIMENSION}, got {value!r}"
                )
            if value % 2:
                raise ValueError(f"{name} must be even for yuv420p, got {value}")
        if not _is_int(self.fps) or not 1 <= self.fps <= _MAX_FPS:
            raise ValueError(f"fps must be an integer in 1..{_MAX_FPS}, got {self.fps!r}")
        if self.codec not in _CODECS:
            raise ValueError(f"codec must be one of {sorted(_CODECS)}, got {self.codec!r}")
        if not _is_int(self.gop) or self.gop < 1:
            raise ValueError(f"gop must be a positive integer, got {self.gop!r}")
        if not _is_int(self.bitrate) or self.bitrate < 1_000:
            raise ValueError(f"bitrate must be an integer >= 1000 bit/s, got {self.bitrate!r}")
        if (
            isinstance(self.seconds, bool)
            or not isinstance(self.seconds, int | float)
            or not math.isfinite(self.seconds)
            or self.seconds <= 0
        ):
            raise ValueError(f"seconds must be a positive finite number, got {self.seconds!r}")
        if self.scene not in SCENES:
            raise ValueError(f"scene must be one of {', '.join(SCENES)}, got {self.scene!r}")
        if self.motion is not None:
            if not isinstance(self.motion, ScriptedMotion):
                raise ValueError(f"motion must be a ScriptedMotion, got {self.motion!r}")
            if self.motion.frames(self.fps).stop > self.frame_count:
                loop = Fraction(self.frame_count, self.fps)
                raise ValueError(
                    f"scripted motion {self.motion} ends after the loop ({float(loop):g} s)"
                )

    @property
    def frame_count(self) -> int:
        """Frames in the loop: `seconds` worth, rounded up to whole GOPs."""
        # str() first so 0.1 s means exactly 1/10 s, not the nearest binary float.
        wanted = Fraction(str(float(self.seconds))) * self.fps
        return max(1, math.ceil(wanted / self.gop)) * self.gop

    @property
    def motion_onset(self) -> int | None:
        """Index of the first loop frame showing the scripted motion, if there is one."""
        if self.motion is None:
            return None
        frames = self.motion.frames(self.fps)
        return frames.start if frames else None


@dataclass(frozen=True, slots=True)
class EncodedLoop:
    """An encoded loop, ready to be replayed packet by packet.

    ``video`` is in decode order (which equals presentation order: there are
    no B-frames), timestamps in 1/90000 starting at 0, the first packet a
    keyframe. Packet data is Annex B, and each keyframe carries its parameter
    sets in-band; ``info.extradata`` holds the same sets from the global
    header. ``audio`` holds raw AAC frames (no ADTS) in 1/16000, the
    AudioSpecificConfig in ``info.audio_extradata``; it covers ``duration``,
    its last frame overhanging the end by less than 1024 samples. Packets'
    ``received_at`` is the encode time: replayers should stamp their own.
    """

    info: StreamInfo
    video: tuple[MediaPacket, ...]
    audio: tuple[MediaPacket, ...]
    #: Loop length in seconds: frames / fps, exactly.
    duration: Fraction


def encoded_loop(params: LoopParams) -> EncodedLoop:
    """Return the encoded loop for ``params``, encoding it on first use.

    Blocking (run it in a worker thread) and thread-safe: concurrent callers
    with equal params share one encode and get the same object back. Falls
    back from the memory cache to the disk cache to encoding; disk cache
    problems are logged and never raised.
    """
    loop = _loops.get(params)
    if loop is not None:
        return loop
    with _loops_lock:
        params_lock = _params_locks.setdefault(params, threading.Lock())
    with params_lock:
        loop = _loops.get(params)
        if loop is None:
            loop = _load_or_encode(params)
            with _loops_lock:
                _loops[params] = loop
    return loop


_loops: dict[LoopParams, EncodedLoop] = {}
_params_locks: dict[LoopParams, threading.Lock] = {}
_loops_lock = threading.Lock()


def _forget_memory_cache() -> None:
    """Drop every in-memory loop (tests use this to reach the disk cache)."""
    with _loops_lock:
        _loops.clear()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _load_or_encode(params: LoopParams) -> EncodedLoop:
    path = _cache_path(params)
    loop = _read_cache(path, params)
    if loop is None:
        loop = _encode(params)
        _write_cache(path, params, loop)
    return loop


# --------------------------------------------------------------------- scene


def _rgb_to_yuv(r: int, g: int, b: int) -> tuple[int, int, int]:
    """BT.601 limited-range conversion of one 8-bit RGB colour."""
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


@dataclass(frozen=True, slots=True)
class _Shape:
    """A moving shape; its centre follows integer-period sinusoids."""

    disc: bool
    colour: tuple[int, int, int]  # Y, U, V
    size: float  # fraction of the picture height
    cycles: tuple[int, int]  # x and y periods per loop
    phase: tuple[float, float]


_SHAPES = (
    _Shape(False, _rgb_to_yuv(230, 40, 40), 0.22, (1, 2), (0.0, 0.5)),
    _Shape(True, _rgb_to_yuv(40, 200, 60), 0.26, (2, 1), (1.3, 0.0)),
    _Shape(False, _rgb_to_yuv(50, 90, 240), 0.16, (1, 3), (2.6, 1.9)),
    _Shape(True, _rgb_to_yuv(250, 210, 30), 0.14, (3, 2), (4.0, 3.1)),
)

# Segment rectangles of a 7-segment digit as (x0, y0, x1, y1) in units of the
# stroke width, on a 6 x 11 cell.
_SEGMENTS = {
    "a": (0, 0, 6, 1),
    "b": (5, 0, 6, 6),
    "c": (5, 5, 6, 11),
    "d": (0, 10, 6, 11),
    "e": (0, 5, 1, 11),
    "f": (0, 0, 1, 6),
    "g": (0, 5, 6, 6),
    ".": (2, 9, 4, 11),
}
_GLYPHS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
    ".": ".",
}
_CELL_W, _CELL_H, _CELL_GAP = 6, 11, 2
_WHITE_Y, _BLACK_Y, _NEUTRAL_C = 235, 16, 128


def _fill(plane: _Plane, x0: int, y0: int, x1: int, y1: int, value: int) -> None:
    """Fill a rectangle, clipped to the plane."""
    h, w = plane.shape
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x0 < x1 and y0 < y1:
        plane[y0:y1, x0:x1] = value


class _SceneRenderer:
    """Renders frame ``i`` of an ``n``-frame loop into a yuv420p buffer."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: int,
        frames: int,
        *,
        scene: str = "demo",
        motion: ScriptedMotion | None = None,
    ) -> None:
        self._w, self._h, self._fps, self._n = width, height, fps, frames
        self._still = scene == "still"
        self._motion = motion
        self._motion_frames = motion.frames(fps) if motion is not None else range(0)
        # Gradient phase indices: uint8 so adding the drift offset wraps for free.
        ys, xs = np.mgrid[0:height, 0:width]
        self._ramp_y = ((xs * 160 // width + ys * 96 // height) % 256).astype(np.uint8)
        cys, cxs = np.mgrid[0 : height // 2, 0 : width // 2]
        self._ramp_c = ((cxs * 256 // (width // 2) + cys * 64 // (height // 2)) % 256).astype(
            np.uint8
        )
        tri = np.abs(np.arange(256) - 128) / 128.0  # triangle wave: no seam where it wraps
        self._lut_y = (40 + 70 * tri).astype(np.uint8)
        self._lut_u = (128 + 40 * (tri - 0.5)).astype(np.uint8)
        self._lut_v = (128 - 40 * (tri - 0.5)).astype(np.uint8)
        self._digits = len(str(frames - 1))
        self._sec_digits = len(str(int(Fraction(frames, fps))))

    def render(self, i: int) -> npt.NDArray[np.uint8]:
        """Return frame ``i`` as a (height * 3 / 2, width) yuv420p array."""
        w, h = self._w, self._h
        buf = np.empty((h * 3 // 2, w), dtype=np.uint8)
        flat = buf.reshape(-1)
        chroma = (h // 2) * (w // 2)
        y = buf[:h]
        u = flat[h * w : h * w + chroma].reshape(h // 2, w // 2)
        v = flat[h * w + chroma :].reshape(h // 2, w // 2)

        # One full gradient cycle per loop for luma, two for chroma.
        drift = 0 if self._still else i * 256 // self._n
        np.take(self._lut_y, self._ramp_y + np.uint8(drift), out=y)
        idx = self._ramp_c + np.uint8((2 * drift) % 256)
        np.take(self._lut_u, idx, out=u)
        np.take(self._lut_v, idx, out=v)

        if self._still:
            for shape in _SHAPES:
                self._draw_shape(y, u, v, shape, 0)
            # Seeded per frame: the encode (and so the disk cache) stays reproducible.
            noise = np.random.default_rng(i).normal(0.0, _STILL_NOISE_SIGMA, y.shape)
            np.copyto(y, np.clip(y + noise, 0, 255).astype(np.uint8))
        else:
            for shape in _SHAPES:
                self._draw_shape(y, u, v, shape, i)
            self._draw_text(y, u, v, i)
            self._draw_progress(y, u, v, i)
        if i in self._motion_frames:
            self._draw_motion(y, u, v, i)
        return buf

    def _draw_motion(self, y: _Plane, u: _Plane, v: _Plane, i: int) -> None:
        """The scripted square, its progress across the box proportional to time."""
        assert self._motion is not None
        frames = self._motion_frames
        x0, y0, x1, y1 = (
            round(c * s)
            for c, s in zip(self._motion.box, (self._w, self._h, self._w, self._h), strict=True)
        )
        side = max(4, round(_MOTION_SIZE * (y1 - y0)) // 2 * 2)
        side = min(side, (x1 - x0) // 2 * 2, (y1 - y0) // 2 * 2)
        progress = (i - frames.start) / max(1, len(frames) - 1)
        left = (x0 + round((x1 - x0 - side) * progress)) // 2 * 2
        top = (y0 + (y1 - y0 - side) // 2) // 2 * 2
        _fill(y, left, top, left + side, top + side, _MOTION_Y)
        _fill(u, left // 2, top // 2, (left + side) // 2, (top + side) // 2, _NEUTRAL_C)
        _fill(v, left // 2, top // 2, (left + side) // 2, (top + side) // 2, _NEUTRAL_C)

    def _draw_shape(self, y: _Plane, u: _Plane, v: _Plane, shape: _Shape, i: int) -> None:
        w, h = self._w, self._h
        turn = 2 * math.pi * i / self._n
        half = max(2, int(shape.size * h / 2)) // 2 * 2  # even: chroma edges stay aligned
        cx = int(w / 2 + (w / 2 - half) * math.sin(shape.cycles[0] * turn + shape.phase[0]))
        cy = int(h / 2 + (h / 2 - half) * math.sin(shape.cycles[1] * turn + shape.phase[1]))
        cx, cy = cx // 2 * 2, cy // 2 * 2
        sy, su, sv = shape.colour
        if not shape.disc:
            _fill(y, cx - half, cy - half, cx + half, cy + half, sy)
            left, top, right, bottom = (
                (cx - half) // 2,
                (cy - half) // 2,
                cx // 2 + half // 2,
                cy // 2 + half // 2,
            )
            _fill(u, left, top, right, bottom, su)
            _fill(v, left, top, right, bottom, sv)
            return
        for plane, value, scale in ((y, sy, 1), (u, su, 2), (v, sv, 2)):
            ph, pw = plane.shape
            r, px, py = half // scale, cx // scale, cy // scale
            x0, x1 = max(0, px - r), min(pw, px + r)
            y0, y1 = max(0, py - r), min(ph, py + r)
            if x0 >= x1 or y0 >= y1:
                continue
            dy = np.arange(y0, y1)[:, None] - py
            dx = np.arange(x0, x1)[None, :] - px
            plane[y0:y1, x0:x1][dx * dx + dy * dy <= r * r] = value

    def _draw_text(self, y: _Plane, u: _Plane, v: _Plane, i: int) -> None:
        """Frame counter (large) and loop time in seconds (smaller), top left."""
        ms = i * 1000 // self._fps
        lines = (
            (str(i).rjust(self._digits, "0"), max(1, self._h // 45)),
            (f"{ms // 1000:0{self._sec_digits}d}.{ms % 1000:03d}", max(1, self._h // 90)),
        )
        margin = max(2, self._h // 40)
        top = margin
        for text, stroke in lines:
            width = len(text) * (_CELL_W + _CELL_GAP) * stroke
            height = _CELL_H * stroke
            # Dark, colourless box so the digits read on any background.
            x0, y0, x1, y1 = margin, top, 2 * margin + width, top + height + margin
            _fill(y, x0 // 2 * 2, y0 // 2 * 2, x1, y1, _BLACK_Y)
            _fill(u, x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2, _NEUTRAL_C)
            _fill(v, x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2, _NEUTRAL_C)
            x, glyph_top = x0 + margin // 2, top + margin // 2
            for char in text:
                for seg in _GLYPHS[char]:
                    sx0, sy0, sx1, sy1 = (c * stroke for c in _SEGMENTS[seg])
                    _fill(y, x + sx0, glyph_top + sy0, x + sx1, glyph_top + sy1, _WHITE_Y)
                x += (_CELL_W + _CELL_GAP) * stroke
            top = y1 + margin

    def _draw_progress(self, y: _Plane, u: _Plane, v: _Plane, i: int) -> None:
        """A bar along the bottom edge that grows over the loop."""
        bar = max(2, self._h // 60) // 2 * 2
        end = (i + 1) * self._w // self._n // 2 * 2
        _fill(y, 0, self._h - bar, end, self._h, _WHITE_Y)
        _fill(u, 0, (self._h - bar) // 2, end // 2, self._h // 2, _NEUTRAL_C)
        _fill(v, 0, (self._h - bar) // 2, end // 2, self._h // 2, _NEUTRAL_C)


# ------------------------------------------------------------------ encoding


def _video_pts(i: int, fps: int) -> int:
    """Timestamp of frame ``i`` in 1/90000; exact on average for any fps."""
    return i * _VIDEO_CLOCK // fps


def _encoder_options(params: LoopParams) -> dict[str, str]:
    kbps = str(max(1, params.bitrate // 1000))
    common = {
        "keyint": str(params.gop),
        "min-keyint": str(params.gop),
        "scenecut": "0",
        "bframes": "0",
        # In-band parameter sets on every keyframe, despite the global header.
        "repeat-headers": "1",
        # Camera-like constant rate: cap at the target with a one-second buffer.
        "vbv-maxrate": kbps,
        "vbv-bufsize": kbps,
    }
    if params.codec == "hevc":
        x265 = {**common, "open-gop": "0", "log-level": "none"}
        return {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "forced-idr": "1",
            "x265-params": ":".join(f"{k}={v}" for k, v in x265.items()),
        }
    return {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "forced-idr": "1",
        "x264-params": ":".join(f"{k}={v}" for k, v in common.items()),
    }


def _encode(params: LoopParams) -> EncodedLoop:
    frames = params.frame_count
    ctx = av.CodecContext.create(_CODECS[params.codec], "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height = params.width, params.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, params.fps)
    ctx.framerate = Fraction(params.fps, 1)
    ctx.bit_rate = params.bitrate
    ctx.gop_size = params.gop
    ctx.max_b_frames = 0
    ctx.flags |= Flags.global_header
    ctx.options = _encoder_options(params)
    ctx.open()
    extradata = bytes(ctx.extradata or b"")

    renderer = _SceneRenderer(
        params.width, params.height, params.fps, frames, scene=params.scene, motion=params.motion
    )
    encoded: list[av.Packet[Any]] = []
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(renderer.render(i), format="yuv420p")
        frame.pts = i
        # Belt and braces on top of keyint: force the IDR cadence exactly.
        frame.pict_type = PictureType.I if i % params.gop == 0 else PictureType.NONE
        encoded.extend(ctx.encode(frame))
    encoded.extend(ctx.encode(None))

    indices = [p.pts for p in encoded]
    if indices != list(range(frames)):
        raise RuntimeError(f"{ctx.name} returned frames out of order or incomplete")
    video = tuple(
        MediaPacket(
            data=bytes(p),
            pts=_video_pts(i, params.fps),
            dts=_video_pts(i, params.fps),
            time_base=_VIDEO_TIME_BASE,
            keyframe=bool(p.is_keyframe),
            kind="video",
            duration=_video_pts(i + 1, params.fps) - _video_pts(i, params.fps),
        )
        for i, p in enumerate(encoded)
    )
    duration = Fraction(frames, params.fps)
    audio, audio_extradata = _encode_audio(duration) if params.audio else ((), None)
    info = StreamInfo(
        codec=params.codec,
        width=params.width,
        height=params.height,
        fps=float(params.fps),
        time_base=_VIDEO_TIME_BASE,
        extradata=extradata,
        profile=_profile_name(params.codec, extradata),
        audio_codec="aac" if params.audio else None,
        audio_sample_rate=_AUDIO_RATE if params.audio else None,
        audio_channels=1 if params.audio else None,
        audio_time_base=_AUDIO_TIME_BASE if params.audio else None,
        audio_extradata=audio_extradata,
    )
    return EncodedLoop(info=info, video=video, audio=audio, duration=duration)


def _encode_audio(duration: Fraction) -> tuple[tuple[MediaPacket, ...], bytes]:
    """AAC frames covering ``duration`` of a steady tone, and the ASC."""
    count = math.ceil(duration * _AUDIO_RATE / _AAC_FRAME)
    ctx = av.CodecContext.create("aac", "w")
    assert isinstance(ctx, av.AudioCodecContext)
    ctx.sample_rate = _AUDIO_RATE
    ctx.layout = "mono"
    ctx.format = "fltp"
    ctx.bit_rate = _AUDIO_BITRATE
    ctx.time_base = _AUDIO_TIME_BASE
    ctx.flags |= Flags.global_header
    ctx.open()
    t = np.arange(_AAC_FRAME) / _AUDIO_RATE
    tone = (_TONE_AMPLITUDE * np.sin(2 * np.pi * _TONE_HZ * t)).astype(np.float32)[None, :]
    encoded: list[av.Packet[Any]] = []
    # One extra frame: the encoder's priming packet (pts < 0) is dropped below.
    for k in range(count + 1):
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = _AUDIO_RATE
        frame.pts = k * _AAC_FRAME
        encoded.extend(ctx.encode(frame))
    encoded.extend(ctx.encode(None))
    kept = [p for p in encoded if p.pts is not None and p.pts >= 0][:count]
    packets = tuple(
        MediaPacket(
            data=bytes(p),
            pts=k * _AAC_FRAME,
            dts=k * _AAC_FRAME,
            time_base=_AUDIO_TIME_BASE,
            keyframe=True,
            kind="audio",
            duration=_AAC_FRAME,
        )
        for k, p in enumerate(kept)
    )
    return packets, bytes(ctx.extradata or b"")


def _profile_name(codec: str, extradata: bytes) -> str:
    """Read the profile from the first SPS in Annex-B ``extradata``."""
    for nal in extradata.split(b"\x00\x00\x01"):
        if codec == "h264" and len(nal) >= 3 and nal[0] & 0x1F == 7:
            idc, constraints = nal[1], nal[2]
            if idc == 66 and constraints & 0x40:
                return "constrained baseline"
            return {66: "baseline", 77: "main", 88: "extended", 100: "high"}.get(idc, str(idc))
        if codec == "hevc" and len(nal) >= 4 and (nal[0] >> 1) & 0x3F == 33:
            idc = nal[3] & 0x1F
            return {1: "main", 2: "main 10", 3: "main still picture", 4: "rext"}.get(idc, str(idc))
    return "main"


# ---------------------------------------------------------------- disk cache


def _cache_dir() -> Path:
    explicit = os.environ.get("CAMSDK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "camsdk"
    return Path.home() / ".cache" / "camsdk"


def _params_json(params: LoopParams) -> dict[str, Any]:
    # float() so seconds=4 and seconds=4.0 (equal params) share one file.
    out = {**asdict(params), "seconds": float(params.seconds)}
    # The scene options only when set: the files of the default scene keep their names.
    if params.scene == "demo":
        del out["scene"]
    motion = out.pop("motion")
    if motion is not None:
        m = params.motion
        assert m is not None
        out["motion"] = [float(m.start), float(m.end), *(float(c) for c in m.box)]
    return out


def _cache_path(params: LoopParams) -> Path:
    # The encoder version is part of the key: new encoders, new bits.
    key = json.dumps(
        {"format": _FORMAT_VERSION, "av": av.__version__, "params": _params_json(params)},
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return _cache_dir() / f"loop-v{_FORMAT_VERSION}-{digest}.bin"


def _write_cache(path: Path, params: LoopParams, loop: EncodedLoop) -> None:
    """Store ``loop`` atomically; failures are logged, never raised."""
    info = loop.info
    payloads = [info.extradata or b"", info.audio_extradata or b""]
    payloads += [p.data for p in loop.video] + [p.data for p in loop.audio]
    body = b"".join(payloads)
    atb = info.audio_time_base
    header = {
        "format": _FORMAT_VERSION,
        "params": _params_json(params),
        "info": {
            "codec": info.codec,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "profile": info.profile,
            "audio_codec": info.audio_codec,
            "audio_sample_rate": info.audio_sample_rate,
            "audio_channels": info.audio_channels,
            "audio_time_base": None if atb is None else [atb.numerator, atb.denominator],
        },
        "duration": [loop.duration.numerator, loop.duration.denominator],
        "extradata": len(info.extradata or b""),
        "audio_extradata": None if info.audio_extradata is None else len(info.audio_extradata),
        "video": [[p.pts, p.dts, p.duration, int(p.keyframe), p.size] for p in loop.video],
        "audio": [[p.pts, p.dts, p.duration, int(p.keyframe), p.size] for p in loop.audio],
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=path.name + ".", suffix=".tmp", delete=False
        ) as tmp:
            tmp_name = tmp.name
            tmp.write(_MAGIC + _HEADER_LEN.pack(len(head)) + head)
            tmp.write(body)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        _log.warning("could not write virtual-camera cache %s: %s", path, exc)
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


class _CorruptCacheError(ValueError):
    """The cache file does not hold a loop for these params."""


def _read_cache(path: Path, params: LoopParams) -> EncodedLoop | None:
    """Load a cached loop, or ``None`` when missing, stale or damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _log.warning("could not read virtual-camera cache %s: %s", path, exc)
        return None
    try:
        return _parse_cache(raw, params)
    except (ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as exc:
        _log.warning("ignoring damaged virtual-camera cache %s: %s", path, exc)
        return None


def _parse_cache(raw: bytes, params: LoopParams) -> EncodedLoop:
    start = len(_MAGIC) + _HEADER_LEN.size
    if len(raw) < start or not raw.startswith(_MAGIC):
        raise _CorruptCacheError("bad magic")
    (head_len,) = _HEADER_LEN.unpack_from(raw, len(_MAGIC))
    body_at = start + head_len
    if body_at > len(raw):
        raise _CorruptCacheError("truncated header")
    header = json.loads(raw[start:body_at])
    if header["format"] != _FORMAT_VERSION or header["params"] != _params_json(params):
        raise _CorruptCacheError("written for other params or format")
    body = memoryview(raw)[body_at:]
    if hashlib.sha256(body).hexdigest() != header["body_sha256"]:
        raise _CorruptCacheError("payload checksum mismatch")

    offset = 0

    def take(size: Any) -> bytes:
        nonlocal offset
        if not _is_int(size) or not 0 <= size <= len(body) - offset:
            raise _CorruptCacheError("payload sizes do not add up")
        chunk = bytes(body[offset : offset + size])
        offset += size
        return chunk

    extradata = take(header["extradata"])
    audio_extradata = None if header["audio_extradata"] is None else take(header["audio_extradata"])

    def packets(rows: list[list[int]], kind: str, time_base: Fraction) -> tuple[MediaPacket, ...]:
        return tuple(
            MediaPacket(
                data=take(size),
                pts=int(pts),
                dts=int(dts),
                time_base=time_base,
                keyframe=bool(key),
                kind="audio" if kind == "audio" else "video",
                duration=int(duration),
            )
            for pts, dts, duration, key, size in rows
        )

    video = packets(header["video"], "video", _VIDEO_TIME_BASE)
    raw_atb = header["info"]["audio_time_base"]
    audio_tb = None if raw_atb is None else Fraction(int(raw_atb[0]), int(raw_atb[1]))
    audio = packets(header["audio"], "audio", audio_tb or _AUDIO_TIME_BASE)
    if offset != len(body):
        raise _CorruptCacheError("trailing payload bytes")
    if not video or not video[0].keyframe:
        raise _CorruptCacheError("no leading keyframe")

    i = header["info"]
    info = StreamInfo(
        codec=str(i["codec"]),
        width=int(i["width"]),
        height=int(i["height"]),
        fps=None if i["fps"] is None else float(i["fps"]),
        time_base=_VIDEO_TIME_BASE,
        extradata=extradata,
        profile=str(i["profile"]),
        audio_codec=None if i["audio_codec"] is None else str(i["audio_codec"]),
        audio_sample_rate=None if i["audio_sample_rate"] is None else int(i["audio_sample_rate"]),
        audio_channels=None if i["audio_channels"] is None else int(i["audio_channels"]),
        audio_time_base=audio_tb,
        audio_extradata=audio_extradata,
    )
    duration = Fraction(int(header["duration"][0]), int(header["duration"][1]))
    return EncodedLoop(info=info, video=video, audio=audio, duration=duration)
