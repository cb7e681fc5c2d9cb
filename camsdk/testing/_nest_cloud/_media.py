"""Pictures the simulated cloud hands out: an event image (JPEG) and a clip preview (MP4)."""

from __future__ import annotations

import functools
import io
from fractions import Fraction
from typing import Any

__all__ = ["clip_mp4", "event_jpeg"]


def _frame(width: int, height: int, shade: int) -> Any:
    import av
    import numpy as np

    y, x = np.mgrid[0:height, 0:width]
    picture = np.stack([(x * 255 // width + shade) % 256, (y * 255 // height) % 256,
                        np.full_like(x, 96)], axis=-1).astype("uint8")
    return av.VideoFrame.from_ndarray(picture, format="rgb24")


@functools.cache
def event_jpeg(width: int = 480, height: int = 360) -> bytes:
    """A JPEG as Google's event image download answers it (blocking, cached)."""
    import av

    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    frame = _frame(width, height, 0).reformat(format="yuvj420p")
    return b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])


@functools.cache
def clip_mp4(width: int = 320, height: int = 240, frames: int = 10) -> bytes:
    """A 10-frame H.264 MP4, as a ``CameraClipPreview`` URL answers it (blocking, cached)."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for index in range(frames):
            frame = _frame(width, height, index * 20).reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()
