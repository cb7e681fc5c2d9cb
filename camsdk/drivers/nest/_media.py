"""Event images and clip previews as snapshots (``Snapshot.source == "event_image"``).

The SDM API has no "take a picture now" command. What it has is media of
events:

- ``CameraEventImage``: ``GenerateImage`` with an event's ``eventId``
  (within 30 seconds of the event) answers a URL and a token; the JPEG is
  downloaded with ``Authorization: Basic <token>`` (sic: the token as is,
  no user name);
- ``CameraClipPreview``: the event carries a ``previewUrl``, a 10-frame MP4
  downloaded with the account's bearer token; camsdk decodes its first
  frame and encodes it as a JPEG (PyAV, in a worker thread).

Both are snapshots with ``source="event_image"`` and ``captured_at`` the
event's time (so ``age`` says how old the picture is). URLs are followed
only to hosts the driver may contact; sizes are capped; a body that is
not what it claims is a `CameraProtocolError`.
"""

from __future__ import annotations

import asyncio
import io
from fractions import Fraction
from typing import TYPE_CHECKING

from camsdk.driver import (
    CameraProtocolError,
    Snapshot,
    register_secret,
    require_jpeg,
)

from ._messages import MediaRef

if TYPE_CHECKING:  # pragma: no cover
    from ._account import NestAccount

__all__ = ["clip_snapshot", "image_snapshot", "jpeg_of_first_frame"]

MAX_IMAGE = 8 * 1024 * 1024
MAX_CLIP = 16 * 1024 * 1024
_MAX_FRAMES = 30


async def image_snapshot(account: NestAccount, device: str, ref: MediaRef, camera_id: str,
                         *, width: int | None, timeout: float) -> Snapshot:
    """Generate and download the image of event ``ref`` (``CameraEventImage``)."""
    results = await account.command(device, "CameraEventImage.GenerateImage",
                                    {"eventId": ref.ref}, why="generate an event image",
                                    timeout=timeout)
    url, token = results.get("url"), results.get("token")
    if not isinstance(url, str) or not isinstance(token, str) or not token:
        raise CameraProtocolError("the event image answer has no URL or token", scheme="nest",
                                  url=account.shown)
    register_secret(token)
    account.check_host(url, "the event image")
    # Google scales the picture to ``width`` (480 by default).
    response = await account.call(
        "GET", f"{url}{'&' if '?' in url else '?'}width={width}" if width else url,
        why="download the event image", kind="action", bearer=False, timeout=timeout,
        max_bytes=MAX_IMAGE, headers={"Authorization": f"Basic {token}"})
    w, h = require_jpeg(response.content, content_type=response.media_type, scheme="nest",
                        url=account.shown)
    return Snapshot(jpeg=response.content, width=w, height=h, captured_at=ref.at,
                    source="event_image", camera_id=camera_id)


async def clip_snapshot(account: NestAccount, ref: MediaRef, camera_id: str, *,
                        timeout: float) -> Snapshot:
    """Download a clip preview (``CameraClipPreview``) and make its first frame a JPEG."""
    account.check_host(ref.ref, "the clip preview")
    response = await account.call("GET", ref.ref, why="download the clip preview",
                                  kind="action", timeout=timeout, max_bytes=MAX_CLIP)
    jpeg, width, height = await asyncio.to_thread(jpeg_of_first_frame, response.content)
    return Snapshot(jpeg=jpeg, width=width, height=height, captured_at=ref.at,
                    source="event_image", camera_id=camera_id)


def jpeg_of_first_frame(clip: bytes) -> tuple[bytes, int, int]:
    """The first decodable video frame of an MP4 ``clip`` as a JPEG (blocking)."""
    import av

    try:
        with av.open(io.BytesIO(clip), "r") as container:
            if not container.streams.video:
                raise CameraProtocolError("the clip preview has no video", scheme="nest")
            stream = container.streams.video[0]
            frame = None
            for count, decoded in enumerate(container.decode(stream)):
                frame = decoded
                if frame is not None or count >= _MAX_FRAMES:
                    break
            if frame is None:
                raise CameraProtocolError("no frame of the clip preview decodes", scheme="nest")
            encoder = av.CodecContext.create("mjpeg", "w")
            encoder.width, encoder.height = frame.width, frame.height
            encoder.pix_fmt = "yuvj420p"
            encoder.time_base = Fraction(1, 25)
            picture = frame.reformat(format="yuvj420p")
            packets = [*encoder.encode(picture), *encoder.encode(None)]
    except av.error.FFmpegError as exc:
        raise CameraProtocolError(f"the clip preview is not a usable MP4: {exc}",
                                  scheme="nest") from exc
    jpeg = b"".join(bytes(p) for p in packets)
    return jpeg, frame.width, frame.height
