"""ONVIF media: profiles, stream URIs and snapshot URIs (Media1 and Media2).

Media2 (``ver20/media``) is used when the device offers it, because only it
describes H.265 encoders; Media1 (``ver10/media``) otherwise. Both answers
are read into `MediaProfile`, which becomes a `camsdk.StreamProfile`. Any
element may be missing (firmware leaves out rate control, audio, even the
resolution); what is missing stays None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from xml.etree.ElementTree import Element

from camsdk.driver import CameraProtocolError, StreamProfile
from camsdk.driver import xml as x

from ._ns import NS
from ._soap import SoapSession

__all__ = ["MediaProfile", "MediaService", "codec_name", "jpeg_size"]

_CODECS = {
    "h264": "h264",
    "h265": "hevc",
    "hevc": "hevc",
    "jpeg": "mjpeg",
    "mjpeg": "mjpeg",
    "mpeg4": "mpeg4",
    "mp4v-es": "mpeg4",
}
_AUDIO = {
    "g711": "pcm_mulaw",
    "pcmu": "pcm_mulaw",
    "pcma": "pcm_alaw",
    "aac": "aac",
    "mpeg4-generic": "aac",
    "mp4a-latm": "aac",
    "g726": "g726",
}


def codec_name(encoding: str, *, audio: bool = False) -> str | None:
    """ONVIF ``Encoding`` text -> the FFmpeg-style codec name camsdk reports."""
    key = encoding.strip().lower()
    if not key:
        return None
    return (_AUDIO if audio else _CODECS).get(key, key)


@dataclass(frozen=True, slots=True)
class MediaProfile:
    """One ONVIF media profile, as much of it as camsdk needs."""

    token: str
    name: str
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None
    audio_codec: str | None = None
    video_source: str = ""
    video_source_configuration: str = ""
    ptz_node: str = ""

    def stream_profile(self, name: str | None = None) -> StreamProfile:
        """This profile as a `StreamProfile` (``name`` overrides the device's name)."""
        return StreamProfile(
            name=name or self.name or self.token,
            token=self.token,
            codec=self.codec,
            width=self.width,
            height=self.height,
            fps=self.fps,
            bitrate=self.bitrate,
            audio_codec=self.audio_codec,
        )


def _int(element: Element | None, *path: str) -> int | None:
    number = x.parse_float(x.text(element, *path))
    return int(number) if number is not None and number > 0 else None


def _profile(node: Element, version: Literal[1, 2]) -> MediaProfile:
    if version == 2:
        configs = x.find(node, "Configurations")
        source = x.find(configs, "VideoSource")
        encoder = x.find(configs, "VideoEncoder")
        audio = x.find(configs, "AudioEncoder")
        ptz = x.find(configs, "PTZ")
    else:
        source = x.find(node, "VideoSourceConfiguration")
        encoder = x.find(node, "VideoEncoderConfiguration")
        audio = x.find(node, "AudioEncoderConfiguration")
        ptz = x.find(node, "PTZConfiguration")
    fps = x.parse_float(x.text(encoder, "RateControl", "FrameRateLimit"))
    kbps = _int(encoder, "RateControl", "BitrateLimit")
    return MediaProfile(
        token=x.attr(node, "token"),
        name=x.text(node, "Name"),
        codec=codec_name(x.text(encoder, "Encoding")),
        width=_int(encoder, "Resolution", "Width"),
        height=_int(encoder, "Resolution", "Height"),
        fps=fps if fps is not None and fps > 0 else None,
        bitrate=kbps * 1000 if kbps is not None else None,
        audio_codec=codec_name(x.text(audio, "Encoding"), audio=True)
        if audio is not None
        else None,
        video_source=x.text(source, "SourceToken"),
        video_source_configuration=x.attr(source, "token"),
        ptz_node=x.text(ptz, "NodeToken"),
    )


@dataclass(frozen=True, slots=True)
class MediaService:
    """The media service in use: its address and version."""

    session: SoapSession
    xaddr: str
    version: Literal[1, 2]

    @property
    def _ns(self) -> str:
        return "tr2" if self.version == 2 else "trt"

    def _action(self, operation: str) -> str:
        return f"{NS[self._ns]}/{operation}"

    async def profiles(self) -> list[MediaProfile]:
        """Every profile with a token (``GetProfiles``)."""
        ns = self._ns
        body = (
            f"<{ns}:GetProfiles><{ns}:Type>All</{ns}:Type></{ns}:GetProfiles>"
            if self.version == 2
            else f"<{ns}:GetProfiles/>"
        )
        answer = await self.session.call(
            self.xaddr, "GetProfiles", body, action=self._action("GetProfiles")
        )
        found = [_profile(node, self.version) for node in x.findall(answer, "Profiles")]
        return [profile for profile in found if profile.token]

    async def stream_uri(self, token: str) -> str:
        """The RTSP URI of profile ``token`` (unicast, RTSP over TCP where asked)."""
        tok = x.escape(token)
        if self.version == 2:
            body = (
                f"<tr2:GetStreamUri><tr2:Protocol>RtspUnicast</tr2:Protocol>"
                f"<tr2:ProfileToken>{tok}</tr2:ProfileToken></tr2:GetStreamUri>"
            )
        else:
            body = (
                "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
                "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
                f"<trt:ProfileToken>{tok}</trt:ProfileToken></trt:GetStreamUri>"
            )
        answer = await self.session.call(
            self.xaddr, "GetStreamUri", body, action=self._action("GetStreamUri")
        )
        return self._uri(answer, "GetStreamUri")

    async def snapshot_uri(self, token: str) -> str:
        """The HTTP URI of a JPEG still of profile ``token``."""
        ns = self._ns
        body = (
            f"<{ns}:GetSnapshotUri><{ns}:ProfileToken>{x.escape(token)}</{ns}:ProfileToken>"
            f"</{ns}:GetSnapshotUri>"
        )
        answer = await self.session.call(
            self.xaddr, "GetSnapshotUri", body, action=self._action("GetSnapshotUri")
        )
        return self._uri(answer, "GetSnapshotUri")

    def _uri(self, answer: Element, operation: str) -> str:
        # Media1 wraps it as MediaUri/Uri, Media2 answers Uri directly.
        uri = x.text(answer, "MediaUri", "Uri") or x.text(answer, "Uri")
        if not uri:
            raise CameraProtocolError(
                f"{operation} answer has no Uri", scheme="onvif", url=self.session.shown
            )
        return uri


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's start-of-frame segment, or None if it is no JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    index = 2
    while index + 4 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            index += 2
            continue
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if marker in _SOF_MARKERS:
            if index + 9 > len(data):
                return None
            height = int.from_bytes(data[index + 5 : index + 7], "big")
            width = int.from_bytes(data[index + 7 : index + 9], "big")
            return (width, height) if width and height else None
        if length < 2:
            return None
        index += 2 + length
    return None
