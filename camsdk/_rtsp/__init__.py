"""camsdk's own asyncio RTSP 1.0 client.

FFmpeg's RTSP client follows any redirect (with the caller's password), and
cannot do the ONVIF backchannel, RTCP wall-clock time or in-band metadata,
so camsdk owns the transport and keeps PyAV for codecs and containers.

```python
from camsdk._rtsp import RtspSettings, RtspUpstream, describe, open_backchannel, metadata_stream

settings = RtspSettings("rtsp://cam/stream", username="u", password="p")
upstream = RtspUpstream(settings)
info = await upstream.start()          # OPTIONS, DESCRIBE, SETUP(s), PLAY
async for packet in upstream: ...      # MediaPacket (Annex-B video, raw audio frames)
await upstream.aclose()                # TEARDOWN (best effort), close
```

Modules: `_message` (framing), `_auth`, `_urls` (redirect rules, control
URLs), `_sdp`, `_session` (requests), `_connection` (TCP/TLS/HTTP tunnel),
`_udp`, `_rtp` (RTCP, reordering), `_tracks`, `_nal`, `_h264`, `_h265`, `_aac`,
`_audio`, `_mjpeg`, `_metadata`, `_sps`, `_info`, `_upstream`,
`_backchannel`, `_metadata_stream`. No threads; no task per stream.
"""

from __future__ import annotations

from ._backchannel import RtspBackchannel, open_backchannel
from ._metadata_stream import MetadataStream, metadata_stream
from ._sdp import MediaDescription, SessionDescription
from ._settings import RtspSettings
from ._upstream import RtspUpstream, describe

__all__ = [
    "MediaDescription",
    "MetadataStream",
    "RtspBackchannel",
    "RtspSettings",
    "RtspUpstream",
    "SessionDescription",
    "describe",
    "metadata_stream",
    "open_backchannel",
]
