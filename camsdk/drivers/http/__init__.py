"""The built-in ``http://`` and ``https://`` camera: JPEG stills, MJPEG streams, HLS playlists.

``http://cam/snapshot.jpg`` is a camera that takes snapshots,
``http://cam:81/stream`` (``multipart/x-mixed-replace``) one that streams
MJPEG as well, and ``https://cam/live/index.m3u8`` one whose HLS stream is
read by the shared PyAV pipeline. `HttpDriver.connect` decides which from the
response; ``mode=`` overrides it. See ``docs/drivers/http.md``.
"""

from ._driver import HttpDriver, HttpKind
from ._jpeg import jpeg_size
from ._multipart import (
    MultipartError,
    MultipartParser,
    Part,
    PartTooLargeError,
    boundary_from_content_type,
)
from ._options import HttpMode, HttpOptions
from ._stream import MjpegStream
from ._transport import DeviceAuth

__all__ = [
    "DeviceAuth",
    "HttpDriver",
    "HttpKind",
    "HttpMode",
    "HttpOptions",
    "MjpegStream",
    "MultipartError",
    "MultipartParser",
    "Part",
    "PartTooLargeError",
    "boundary_from_content_type",
    "jpeg_size",
]
