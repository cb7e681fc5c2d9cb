"""SDP (RFC 4566) as an RTSP client needs it: media sections, codecs, control URLs.

Parsing is bounded (64 KiB, 1024 lines, 16 media sections) and lenient about
what does not matter (unknown lines and attributes are skipped), strict about
what does: a body that is not SDP at all is a `CameraProtocolError`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from camsdk._errors import CameraProtocolError

from ._urls import Origin, resolve_control

__all__ = ["MediaDescription", "SessionDescription", "parse_sdp"]

_MAX_LINES = 1024
_MAX_MEDIA = 16
# RTP encoding names (rtpmap, lower case) -> FFmpeg codec names.
ENCODINGS = {
    "h264": "h264",
    "h265": "hevc",
    "mpeg4-generic": "aac",
    "mp4a-latm": "aac_latm",
    "pcmu": "pcm_mulaw",
    "pcma": "pcm_alaw",
    "jpeg": "mjpeg",
    "mp4v-es": "mpeg4",
    "opus": "opus",
    "l16": "pcm_s16be",
    "g726-32": "adpcm_g726le",
    "vnd.onvif.metadata": "onvif_metadata",
}
# Static payload types (RFC 3551): encoding, clock rate, channels.
STATIC_PAYLOADS = {
    0: ("pcmu", 8000, 1),
    8: ("pcma", 8000, 1),
    14: ("mpa", 90000, 1),
    26: ("jpeg", 90000, 1),
}
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section: what it carries and where to SET it UP."""

    kind: str
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1
    fmtp: Mapping[str, str] = field(default_factory=lambda: _EMPTY, repr=False)
    control: str | None = None
    #: Absolute URL for SETUP, pinned to the caller's origin.
    control_url: str = ""
    #: ``sendrecv``, ``sendonly`` (an ONVIF backchannel), ``recvonly`` or ``inactive``.
    direction: str = "sendrecv"
    framerate: float | None = None
    formats: tuple[int, ...] = ()

    @property
    def codec(self) -> str | None:
        """FFmpeg's codec name, or ``None`` when camsdk does not know the encoding."""
        return ENCODINGS.get(self.encoding)

    def sprop_parameter_sets(self) -> list[bytes]:
        """H.264 parameter sets from ``sprop-parameter-sets`` (undecodable ones skipped)."""
        return _b64_list(self.fmtp.get("sprop-parameter-sets", ""))

    def sprop_hevc(self) -> list[bytes]:
        """H.265 VPS, SPS and PPS from ``sprop-vps/sps/pps``, in that order."""
        out: list[bytes] = []
        for key in ("sprop-vps", "sprop-sps", "sprop-pps"):
            out += _b64_list(self.fmtp.get(key, ""))
        return out


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A parsed DESCRIBE answer.

    ``base_url`` is the URL that was finally described (after redirects the
    caller allowed); ``content_base`` the base of relative control URLs;
    ``control_url`` the aggregate URL for PLAY and TEARDOWN.
    """

    base_url: str
    content_base: str
    control_url: str
    media: tuple[MediaDescription, ...]
    session_name: str = ""
    server: str = ""
    text: str = field(default="", repr=False)

    @property
    def video(self) -> MediaDescription | None:
        """The first video section camsdk can read (H.264, H.265, MJPEG), else the first."""
        videos = [m for m in self.media if m.kind == "video" and m.direction != "sendonly"]
        return next((m for m in videos if m.codec in ("h264", "hevc", "mjpeg")),
                    videos[0] if videos else None)

    @property
    def audio(self) -> MediaDescription | None:
        """The first audio section the camera sends (a backchannel is ``sendonly``)."""
        return next((m for m in self.media if m.kind == "audio" and m.direction != "sendonly"),
                    None)

    @property
    def backchannel(self) -> MediaDescription | None:
        """The ONVIF backchannel: an audio section the client sends (``a=sendonly``)."""
        return next((m for m in self.media if m.kind == "audio" and m.direction == "sendonly"),
                    None)

    @property
    def metadata(self) -> MediaDescription | None:
        """The ONVIF metadata section (``application``, ``vnd.onvif.metadata``)."""
        return next((m for m in self.media if m.encoding == "vnd.onvif.metadata"), None)


def _b64_list(text: str) -> list[bytes]:
    out: list[bytes] = []
    for item in text.split(",")[:8]:
        item = item.strip()
        if not item:
            continue
        with contextlib.suppress(binascii.Error, ValueError):
            data = base64.b64decode(item + "=" * (-len(item) % 4))
            if data:
                out.append(data)
    return out


@dataclass(slots=True)
class _Section:
    kind: str
    formats: list[int]
    attrs: list[tuple[str, str]] = field(default_factory=list)


def parse_sdp(body: bytes, *, request_url: str, content_base: str | None,
              origin: Origin, server: str = "") -> SessionDescription:
    """Parse an SDP body; control URLs are resolved against ``content_base`` (or the
    request URL) and pinned to ``origin``. Raises `CameraProtocolError`."""
    text = body.decode("utf-8", "replace")
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if len(lines) > _MAX_LINES:
        raise CameraProtocolError("SDP has too many lines")
    if not lines or lines[0].replace(" ", "") != "v=0":
        raise CameraProtocolError("the DESCRIBE answer is not SDP (no v=0)")
    session_attrs: list[tuple[str, str]] = []
    sections: list[_Section] = []
    name = ""
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise CameraProtocolError("malformed SDP line")
        key, value = line[0], line[2:]
        if key == "m":
            parts = value.split()
            if len(parts) < 4:
                raise CameraProtocolError("malformed SDP m= line")
            formats = [int(p) for p in parts[3:] if p.isdigit() and int(p) < 128]
            sections.append(_Section(parts[0].lower(), formats))
            if len(sections) > _MAX_MEDIA:
                raise CameraProtocolError("SDP has too many media sections")
        elif key == "a":
            attr, _, rest = value.partition(":")
            target = sections[-1].attrs if sections else session_attrs
            target.append((attr.strip().lower(), rest.strip()))
        elif key == "s" and not sections:
            name = value[:256]
    base = content_base or request_url
    try:
        base = resolve_control(base, None, origin)
        session_control = next((v for k, v in session_attrs if k == "control"), None)
        control_url = resolve_control(base, session_control, origin)
    except ValueError as exc:
        raise CameraProtocolError(f"unusable control URL in SDP: {exc}") from None
    media = tuple(_media(section, base, origin) for section in sections if section.formats)
    return SessionDescription(request_url, base, control_url, media, name, server[:256], text)


def _media(section: _Section, base: str, origin: Origin) -> MediaDescription:
    pt = section.formats[0]
    encoding, rate, channels = STATIC_PAYLOADS.get(pt, ("", 90000, 1))
    fmtp: dict[str, str] = {}
    control: str | None = None
    direction = "sendrecv"
    framerate: float | None = None
    for key, value in section.attrs:
        if key == "rtpmap":
            number, _, spec = value.partition(" ")
            if number.strip() != str(pt):
                continue
            pieces = spec.strip().split("/")
            encoding = pieces[0].strip().lower()
            if len(pieces) > 1 and pieces[1].strip().isdigit():
                rate = max(1, min(int(pieces[1]), 1_000_000))
            if len(pieces) > 2 and pieces[2].strip().isdigit():
                channels = max(1, min(int(pieces[2]), 8))
        elif key == "fmtp":
            number, _, params = value.partition(" ")
            if number.strip() != str(pt):
                continue
            for item in params.split(";")[:64]:
                k, sep, v = item.strip().partition("=")
                if sep:
                    fmtp[k.strip().lower()] = v.strip()
        elif key == "control":
            control = value
        elif key in ("sendonly", "recvonly", "sendrecv", "inactive"):
            direction = key
        elif key in ("framerate", "x-framerate"):
            with contextlib.suppress(ValueError):
                fps = float(value)
                framerate = fps if 0 < fps <= 1000 else None
    if not encoding and section.kind == "application":
        encoding = "unknown"
    try:
        url = resolve_control(base, control, origin)
    except ValueError as exc:
        raise CameraProtocolError(f"unusable control URL in SDP: {exc}") from None
    return MediaDescription(
        kind=section.kind, payload_type=pt, encoding=encoding, clock_rate=rate,
        channels=channels, fmtp=MappingProxyType(fmtp), control=control, control_url=url,
        direction=direction, framerate=framerate, formats=tuple(section.formats),
    )
