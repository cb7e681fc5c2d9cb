"""M3U8 playlists (RFC 8216): master and media playlists, parsed in bounded time and memory.

`parse_playlist` turns a playlist's text into a `MasterPlaylist` (variants,
renditions) or a `MediaPlaylist` (segments with their keys, initialisation
sections and byte ranges). Every URI in it is resolved against the
playlist's own URL and checked *here*, before anything could fetch it:
only ``http`` and ``https``, never with user info, never from ``https``
down to ``http`` (`resolve_uri`). Which hosts may be contacted is the
fetcher's decision (it knows the caller's hosts); `check_host` lets a
caller that knows them refuse early too.

Malformed input raises `CameraProtocolError`: a playlist that is not
``#EXTM3U``, a known tag whose value does not parse, a number out of range,
more lines, segments or variants than `HlsLimits` allow. Unknown tags and
comments are ignored, as RFC 8216 asks of clients. Messages never quote
the playlist (its URIs may carry tokens).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

from .._errors import CameraProtocolError, RedirectRefusedError
from ._limits import HlsLimits

__all__ = [
    "ByteRange",
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

_DEFAULT_LIMITS = HlsLimits()
# Largest integers a playlist may carry (RFC 8216: decimal-integer < 2**64).
_MAX_INT = 2**64 - 1
# Durations beyond a day are not media segments.
_MAX_SECONDS = 86_400.0
_ATTRIBUTE = re.compile(r'[ \t]*([A-Za-z0-9_-]+)=("[^"\r\n]*"|[^",]*)')
_INTEGER = re.compile(r"[0-9]{1,20}")
_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{0,12})?")
_HEX = re.compile(r"0[xX]([0-9a-fA-F]{1,32})")
_BYTERANGE = re.compile(r"([0-9]{1,20})(?:@([0-9]{1,20}))?")
_RESOLUTION = re.compile(r"([0-9]{1,6})[xX]([0-9]{1,6})")
# A plain file name (no scheme, no path, no dot segment): joined without urljoin.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_~%+=-][A-Za-z0-9_.~%+=-]*(?:\?[^#\s]*)?")


def _malformed(what: str) -> CameraProtocolError:
    return CameraProtocolError(f"malformed HLS playlist: {what}")


# -- data ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``length`` bytes from ``offset`` of a resource (``#EXT-X-BYTERANGE``)."""

    length: int
    offset: int

    @property
    def end(self) -> int:
        """The offset just past the range."""
        return self.offset + self.length


@dataclass(frozen=True, slots=True)
class Key:
    """An ``#EXT-X-KEY`` in effect (``METHOD=NONE`` is represented by no key at all).

    ``uri`` is set (resolved and checked) for ``AES-128`` keys of the
    ``identity`` format only; other methods are never fetched.
    """

    method: str
    uri: str | None = field(repr=False)
    #: The explicit 16-byte IV, or ``None``: the media sequence number is the IV.
    iv: bytes | None
    keyformat: str = "identity"


@dataclass(frozen=True, slots=True)
class InitSection:
    """An ``#EXT-X-MAP``: the initialisation section (fMP4 ``ftyp``+``moov``) of what follows."""

    uri: str = field(repr=False)
    byte_range: ByteRange | None = None
    #: The key in effect where the tag appeared (an encrypted init needs an explicit IV).
    key: Key | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One media segment of a media playlist, its URI absolute and checked.

    URIs stay out of every repr: they often carry signed tokens.
    """

    uri: str = field(repr=False)
    duration: float
    #: Media sequence number: the playlist's ``EXT-X-MEDIA-SEQUENCE`` plus its index.
    sequence: int
    #: Discontinuity sequence number (changes at every ``EXT-X-DISCONTINUITY``).
    discontinuity_sequence: int = 0
    #: An ``EXT-X-DISCONTINUITY`` precedes this segment.
    discontinuity: bool = False
    key: Key | None = None
    init: InitSection | None = None
    byte_range: ByteRange | None = None
    #: ``EXT-X-GAP``: the server says the segment is missing; never fetched.
    gap: bool = False
    #: Wall-clock time of the segment's first sample (UNIX seconds), if the playlist says.
    program_date_time: float | None = None


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """A media playlist: its segments and how it behaves over time."""

    url: str = field(repr=False)
    target_duration: float
    media_sequence: int
    discontinuity_sequence: int
    segments: tuple[Segment, ...]
    #: ``#EXT-X-ENDLIST``: no segment will be added.
    ended: bool = False
    playlist_type: Literal["VOD", "EVENT"] | None = None

    master: Literal[False] = False

    @property
    def live(self) -> bool:
        """Whether the server may still add segments (no ENDLIST, not ``VOD``)."""
        return not self.ended and self.playlist_type != "VOD"

    @property
    def reload_interval(self) -> float:
        """The playlist's target duration, or its longest segment when that is longer.

        Some packagers round sub-second targets down to 0; the longest segment
        keeps reloads in step with the media anyway.
        """
        longest = max((s.duration for s in self.segments[-3:]), default=0.0)
        return max(self.target_duration, longest)


@dataclass(frozen=True, slots=True)
class Variant:
    """One ``#EXT-X-STREAM-INF`` of a master playlist."""

    uri: str = field(repr=False)
    bandwidth: int = 0
    average_bandwidth: int | None = None
    width: int | None = None
    height: int | None = None
    codecs: str = ""
    frame_rate: float | None = None
    #: ``AUDIO`` group id: the variant's audio comes from a `Rendition` of that group.
    audio: str | None = None


@dataclass(frozen=True, slots=True)
class Rendition:
    """One ``#EXT-X-MEDIA`` of a master playlist (alternate audio, subtitles, ...)."""

    type: str
    group_id: str
    name: str
    uri: str | None = field(default=None, repr=False)
    language: str | None = None
    default: bool = False
    autoselect: bool = False


@dataclass(frozen=True, slots=True)
class MasterPlaylist:
    """A master playlist: the variants (renditions of one presentation) to choose from."""

    url: str = field(repr=False)
    variants: tuple[Variant, ...]
    renditions: tuple[Rendition, ...] = ()

    master: Literal[True] = True

    def by_bandwidth(self) -> tuple[Variant, ...]:
        """The variants, highest ``BANDWIDTH`` first (ties keep playlist order)."""
        return tuple(sorted(self.variants, key=lambda v: v.bandwidth, reverse=True))


# -- URIs ------------------------------------------------------------------------------------


def resolve_uri(base: str, uri: str) -> str:
    """``uri`` resolved against ``base`` (the playlist's URL), or `CameraProtocolError`.

    Refused: any scheme but ``http``/``https`` (``file:``, ``data:``, ...),
    user info in the URI, control characters, a missing host, and a
    downgrade from an ``https`` playlist to ``http``.
    """
    uri = uri.strip()
    if not uri:
        raise _malformed("an empty URI")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        raise _malformed("a URI with control characters")
    if _PLAIN_NAME.fullmatch(uri) is not None:
        # The common case (a file name next to the playlist), without urljoin's cost;
        # base was checked when it was resolved itself.
        path_end = len(base)
        for delimiter in "?#":
            at = base.find(delimiter)
            if at >= 0:
                path_end = min(path_end, at)
        slash = base.rfind("/", 0, path_end)
        if slash > base.find("//") + 1:
            return base[: slash + 1] + uri
    joined = urljoin(base, uri)
    try:
        parts = urlsplit(joined)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise _malformed("a URI with a malformed host or port") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme[:16] or "non-HTTP"
        raise CameraProtocolError(
            f"the playlist names a {shown} URI; only http and https are fetched (refused)"
        )
    if not parts.hostname:
        raise _malformed("a URI without a host")
    if parts.username is not None or parts.password is not None:
        raise CameraProtocolError("the playlist names a URI with user info; refused")
    if scheme == "http" and base[:6].lower() == "https:":
        raise RedirectRefusedError(
            "the playlist points from https to plain http; refused",
            location=f"http://{parts.netloc[:128]}",
        )
    return joined


def check_host(url: str, allowed: Collection[str]) -> None:
    """Raise `RedirectRefusedError` unless ``url``'s host is one of ``allowed``."""
    host = (urlsplit(url).hostname or "").lower()
    if host not in allowed:
        raise RedirectRefusedError(
            f"the playlist points at another host ({host[:64]}); refused (allow it with "
            "CameraConfig.allow_redirect_hosts)",
            location=f"{urlsplit(url).scheme}://{host[:128]}",
        )


# -- values ----------------------------------------------------------------------------------


def _attributes(text: str, tag: str) -> dict[str, str]:
    """An attribute list (``NAME=value,NAME="quoted, value"``)."""
    out: dict[str, str] = {}
    pos, end = 0, len(text)
    while pos < end:
        match = _ATTRIBUTE.match(text, pos)
        if match is None:
            raise _malformed(f"the attribute list of {tag}")
        name, value = match.group(1).upper(), match.group(2)
        out[name] = value[1:-1] if value.startswith('"') else value.strip()
        pos = match.end()
        if pos < end:
            if text[pos] != ",":
                raise _malformed(f"the attribute list of {tag}")
            pos += 1
    return out


def _integer(text: str, what: str) -> int:
    text = text.strip()
    if _INTEGER.fullmatch(text) is None:
        raise _malformed(f"{what} is not an integer")
    value = int(text)
    if value > _MAX_INT:
        raise _malformed(f"{what} is out of range")
    return value


def _seconds(text: str, what: str) -> float:
    text = text.strip()
    if _DECIMAL.fullmatch(text) is None:
        raise _malformed(f"{what} is not a number of seconds")
    value = float(text)
    if not math.isfinite(value) or value > _MAX_SECONDS:
        raise _malformed(f"{what} is out of range")
    return value


def _byte_range(text: str, previous_end: int | None, what: str) -> ByteRange:
    match = _BYTERANGE.fullmatch(text.strip())
    if match is None:
        raise _malformed(f"{what} is not a byte range")
    length = int(match.group(1))
    if match.group(2) is not None:
        offset = int(match.group(2))
    elif previous_end is not None:
        offset = previous_end
    else:
        raise _malformed(f"{what} has no offset and follows no range of the same resource")
    if length < 1 or offset + length > _MAX_INT:
        raise _malformed(f"{what} is out of range")
    return ByteRange(length, offset)


def _iv(text: str) -> bytes:
    match = _HEX.fullmatch(text.strip())
    if match is None:
        raise _malformed("the IV of #EXT-X-KEY is not a hexadecimal number")
    return int(match.group(1), 16).to_bytes(16, "big")


def _date_time(text: str) -> float | None:
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        return None  # informative only: a bad date costs the wall clock, not the stream
    if stamp.tzinfo is None:
        return None
    return stamp.timestamp()


def _key(attrs: dict[str, str], base: str) -> Key | None:
    method = attrs.get("METHOD", "").upper()
    if not method:
        raise _malformed("#EXT-X-KEY without METHOD")
    if method == "NONE":
        return None
    uri = attrs.get("URI")
    if uri is None:
        raise _malformed("#EXT-X-KEY without URI")
    iv = _iv(attrs["IV"]) if "IV" in attrs else None
    keyformat = attrs.get("KEYFORMAT", "identity")[:64]
    if method != "AES-128" or keyformat != "identity":
        # Never fetched (DRM key systems use their own schemes): refused when used.
        return Key(method[:32], None, iv, keyformat)
    return Key(method, resolve_uri(base, uri), iv, keyformat)


def _variant(attrs: dict[str, str], uri: str) -> Variant:
    width = height = None
    match = _RESOLUTION.fullmatch(attrs.get("RESOLUTION", "").strip())
    if match is not None:
        width, height = int(match.group(1)), int(match.group(2))
    frame_rate = None
    if "FRAME-RATE" in attrs:
        frame_rate = _seconds(attrs["FRAME-RATE"], "FRAME-RATE")
    bandwidth = _integer(attrs["BANDWIDTH"], "BANDWIDTH") if "BANDWIDTH" in attrs else 0
    average = attrs.get("AVERAGE-BANDWIDTH")
    return Variant(
        uri=uri,
        bandwidth=bandwidth,
        average_bandwidth=None if average is None else _integer(average, "AVERAGE-BANDWIDTH"),
        width=width,
        height=height,
        codecs=attrs.get("CODECS", "")[:256],
        frame_rate=frame_rate,
        audio=attrs.get("AUDIO"),
    )


def _rendition(attrs: dict[str, str], base: str) -> Rendition:
    if "TYPE" not in attrs or "GROUP-ID" not in attrs:
        raise _malformed("#EXT-X-MEDIA without TYPE or GROUP-ID")
    uri = attrs.get("URI")
    return Rendition(
        type=attrs["TYPE"].upper()[:32],
        group_id=attrs["GROUP-ID"][:256],
        name=attrs.get("NAME", "")[:256],
        uri=None if uri is None else resolve_uri(base, uri),
        language=attrs.get("LANGUAGE"),
        default=attrs.get("DEFAULT", "").upper() == "YES",
        autoselect=attrs.get("AUTOSELECT", "").upper() == "YES",
    )


# -- the parser ------------------------------------------------------------------------------


class _MediaState:
    """What the tags seen so far say about the next segment."""

    __slots__ = (
        "byte_range",
        "date_time",
        "discontinuity",
        "discontinuity_sequence",
        "duration",
        "gap",
        "init",
        "key",
        "last_range",
        "media_sequence",
        "segments",
    )

    def __init__(self) -> None:
        self.media_sequence = 0
        self.discontinuity_sequence = 0
        self.segments: list[Segment] = []
        self.duration: float | None = None
        self.discontinuity = False
        self.gap = False
        self.byte_range: str | None = None
        self.date_time: float | None = None
        self.key: Key | None = None
        self.init: InitSection | None = None
        # (uri, end) of the last byte range: an offset-less range continues it.
        self.last_range: tuple[str, int] | None = None

    def add(self, uri: str) -> None:
        if self.duration is None:
            raise _malformed("a segment URI without #EXTINF")
        byte_range = None
        if self.byte_range is not None:
            previous = self.last_range[1] if self.last_range and self.last_range[0] == uri else None
            byte_range = _byte_range(self.byte_range, previous, "#EXT-X-BYTERANGE")
            self.last_range = (uri, byte_range.end)
        date_time = self.date_time
        if date_time is None and self.segments and not self.discontinuity:
            previous_segment = self.segments[-1]
            if previous_segment.program_date_time is not None:
                date_time = previous_segment.program_date_time + previous_segment.duration
        if self.discontinuity:
            self.discontinuity_sequence += 1
        self.segments.append(
            Segment(
                uri=uri,
                duration=self.duration,
                sequence=self.media_sequence + len(self.segments),
                discontinuity_sequence=self.discontinuity_sequence,
                discontinuity=self.discontinuity,
                key=self.key,
                init=self.init,
                byte_range=byte_range,
                gap=self.gap,
                program_date_time=date_time,
            )
        )
        self.duration = None
        self.discontinuity = self.gap = False
        self.byte_range = None
        self.date_time = None


def _lines(text: str, limits: HlsLimits) -> list[str]:
    if len(text) > limits.max_playlist_bytes:
        raise _malformed(f"larger than {limits.max_playlist_bytes} bytes")
    lines = text.lstrip("\ufeff \t\r\n").splitlines()
    if not lines or not lines[0].rstrip().startswith("#EXTM3U"):
        raise CameraProtocolError("not an HLS playlist (no #EXTM3U)")
    if any(len(line) > limits.max_line_chars for line in lines):
        raise _malformed(f"a line longer than {limits.max_line_chars} characters")
    return lines


def parse_playlist(
    text: str | bytes, url: str, *, limits: HlsLimits = _DEFAULT_LIMITS
) -> MasterPlaylist | MediaPlaylist:
    """Parse a playlist fetched from ``url`` (its final URL, after redirects).

    URIs in it come back absolute, resolved against ``url`` and checked by
    `resolve_uri`. Raises `CameraProtocolError` on anything malformed.
    """
    if isinstance(text, bytes):
        if len(text) > limits.max_playlist_bytes:
            raise _malformed(f"larger than {limits.max_playlist_bytes} bytes")
        text = text.decode("utf-8", "replace")
    lines = _lines(text, limits)
    state = _MediaState()
    variants: list[Variant] = []
    renditions: list[Rendition] = []
    pending_variant: dict[str, str] | None = None
    target: float | None = None
    ended = False
    playlist_type: Literal["VOD", "EVENT"] | None = None
    for raw in lines[1:]:
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            uri = resolve_uri(url, line)
            if pending_variant is not None:
                if len(variants) >= limits.max_variants:
                    raise _malformed(f"more than {limits.max_variants} variants")
                variants.append(_variant(pending_variant, uri))
                pending_variant = None
            else:
                if len(state.segments) >= limits.max_segments:
                    raise _malformed(f"more than {limits.max_segments} segments")
                state.add(uri)
            continue
        if not line.startswith("#EXT"):
            continue  # a comment
        name, _, value = line.partition(":")
        if name == "#EXTINF":
            state.duration = _seconds(value.partition(",")[0], "#EXTINF")
        elif name == "#EXT-X-BYTERANGE":
            state.byte_range = value
        elif name == "#EXT-X-DISCONTINUITY":
            state.discontinuity = True
        elif name == "#EXT-X-GAP":
            state.gap = True
        elif name == "#EXT-X-PROGRAM-DATE-TIME":
            state.date_time = _date_time(value)
        elif name == "#EXT-X-KEY":
            state.key = _key(_attributes(value, name), url)
        elif name == "#EXT-X-MAP":
            attrs = _attributes(value, name)
            if "URI" not in attrs:
                raise _malformed("#EXT-X-MAP without URI")
            init_range = None
            if "BYTERANGE" in attrs:
                init_range = _byte_range(attrs["BYTERANGE"], 0, "the BYTERANGE of #EXT-X-MAP")
            state.init = InitSection(resolve_uri(url, attrs["URI"]), init_range, state.key)
        elif name == "#EXT-X-TARGETDURATION":
            target = _seconds(value, name)
        elif name == "#EXT-X-MEDIA-SEQUENCE":
            if state.segments:
                raise _malformed("#EXT-X-MEDIA-SEQUENCE after the first segment")
            state.media_sequence = _integer(value, name)
        elif name == "#EXT-X-DISCONTINUITY-SEQUENCE":
            if state.segments:
                raise _malformed("#EXT-X-DISCONTINUITY-SEQUENCE after the first segment")
            state.discontinuity_sequence = _integer(value, name)
        elif name == "#EXT-X-ENDLIST":
            ended = True
        elif name == "#EXT-X-PLAYLIST-TYPE":
            kind = value.strip().upper()
            if kind not in ("VOD", "EVENT"):
                raise _malformed("#EXT-X-PLAYLIST-TYPE is neither VOD nor EVENT")
            playlist_type = "VOD" if kind == "VOD" else "EVENT"
        elif name == "#EXT-X-STREAM-INF":
            pending_variant = _attributes(value, name)
        elif name == "#EXT-X-MEDIA":
            if len(renditions) >= limits.max_variants:
                raise _malformed(f"more than {limits.max_variants} renditions")
            renditions.append(_rendition(_attributes(value, name), url))
    if variants or pending_variant is not None:
        if state.segments:
            raise _malformed("both variants and media segments")
        return MasterPlaylist(url=url, variants=tuple(variants), renditions=tuple(renditions))
    if target is None:
        # Required by RFC 8216, missing from some cameras: the longest segment will do.
        target = float(math.ceil(max((s.duration for s in state.segments), default=0.0)))
    return MediaPlaylist(
        url=url,
        target_duration=target,
        media_sequence=state.media_sequence,
        discontinuity_sequence=state.discontinuity_sequence,
        segments=tuple(state.segments),
        ended=ended,
        playlist_type=playlist_type,
    )
