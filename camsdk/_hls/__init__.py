"""camsdk's own HLS client: playlists and segments fetched by camsdk, demuxed by PyAV.

FFmpeg's HLS demuxer would fetch segments, keys and reloads from whatever
host a playlist names; camsdk promises that a device-supplied URL reaches
only the hosts the caller named, never downgrades from https, never opens
a local scheme, verifies TLS and caps sizes. So camsdk fetches HLS itself
through a `Fetcher` (the device HTTP client enforces those rules) and
hands PyAV segment *bytes*, never a URL.

- `parse_playlist`: master and media playlists (RFC 8216), bounded, every
  URI resolved and checked before anything fetches it;
- `HlsUpstream`: a media playlist as a packet source for the stream
  session (`info`, ``async for``, `aclose`, ``live``/``finite``): live
  reloads, AES-128, MPEG-TS and fMP4 segments, discontinuities;
- `HlsLimits`: every size and count bound, in one place.

```python
upstream = HlsUpstream(media_playlist_url, fetcher, url_for_errors=redacted, scheme="hls+https")
info = await upstream.start()
async for packet in upstream: ...
await upstream.aclose()
```
"""

from __future__ import annotations

from ._fetch import Fetcher, FetchResult
from ._limits import HlsLimits
from ._playlist import (
    ByteRange,
    InitSection,
    Key,
    MasterPlaylist,
    MediaPlaylist,
    Rendition,
    Segment,
    Variant,
    check_host,
    parse_playlist,
    resolve_uri,
)
from ._upstream import HlsUpstream

__all__ = [
    "ByteRange",
    "FetchResult",
    "Fetcher",
    "HlsLimits",
    "HlsUpstream",
    "InitSection",
    "Key",
    "MasterPlaylist",
    "MediaPlaylist",
    "Rendition",
    "Segment",
    "Variant",
    "check_host",
    "parse_playlist",
    "resolve_uri",
]
