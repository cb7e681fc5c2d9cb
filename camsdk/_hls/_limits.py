"""`HlsLimits`: every bound camsdk's HLS client keeps against a hostile or broken server."""

from __future__ import annotations

from dataclasses import dataclass, fields

from .._errors import ConfigurationError

__all__ = ["HlsLimits"]

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HlsLimits:
    """Sizes and counts beyond which a playlist or segment is refused with a typed error.

    The defaults hold for any camera or restreamer seen in practice; raise
    them for long VOD playlists or very high bitrates.
    """

    #: Bytes of one playlist (master or media).
    max_playlist_bytes: int = _MIB
    #: Characters of one playlist line (long URIs carry signed tokens).
    max_line_chars: int = 64 * 1024
    #: Segments one media playlist may list.
    max_segments: int = 50_000
    #: Variants and renditions one master playlist may list.
    max_variants: int = 1_000
    #: Bytes of one media segment.
    max_segment_bytes: int = 64 * _MIB
    #: Bytes of one initialisation section (``#EXT-X-MAP``).
    max_init_bytes: int = 4 * _MIB
    #: Packets one segment may hold after demuxing.
    max_packets_per_segment: int = 100_000
    #: Decryption keys kept per stream (live streams rotate them).
    key_cache_size: int = 8
    #: Live only: segments in a row that may fail (fetch or demux) and be skipped.
    max_skipped_segments: int = 3
    #: Live only: playlist reloads in a row that may fail before the stream fails.
    max_reload_failures: int = 3

    def __post_init__(self) -> None:
        for item in fields(self):
            least = 0 if item.name in _MAY_BE_ZERO else 1
            if getattr(self, item.name) < least:
                raise ConfigurationError(f"HlsLimits.{item.name} must be at least {least}")


_MAY_BE_ZERO = frozenset({"max_skipped_segments", "max_reload_failures"})
