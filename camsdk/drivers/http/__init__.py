"""The built-in ``http://`` and ``https://`` camera: JPEG stills, MJPEG streams, HLS playlists.

``http://cam/snapshot.jpg`` is a camera that takes snapshots,
``http://cam:81/stream`` (``multipart/x-mixed-replace``) one that streams
MJPEG as well, and ``https://cam/live/index.m3u8`` one whose HLS stream is
read by camsdk's HLS transport. `HttpDriver.connect` decides which from the
response; ``mode=`` overrides it. See ``docs/drivers/http.md``.
"""

from ._driver import HttpDriver, HttpKind
from ._options import HttpMode, HttpOptions
from ._stream import MjpegStream

__all__ = [
    "HttpDriver",
    "HttpKind",
    "HttpMode",
    "HttpOptions",
    "MjpegStream",
]
