"""`RtspDriver`: ``rtsp://`` and ``rtsps://`` cameras, read by camsdk's own RTSP client.

The driver answers three questions and leaves the rest to the facade and the
media pipeline:

- *where is each profile?* The URL's path is ``main``; ``sub`` comes from
  ``sub_path=``, from ``profiles=``, or from the URL scheme of a vendor that
  makes it known (Hikvision ``/Streaming/Channels/101`` -> ``102``, Dahua
  ``subtype=0`` -> ``1``, Reolink ``_main`` -> ``_sub``, ...). The device's own
  query (``?channel=1&subtype=0``) stays in the URL (`query_passthrough`).
- *how is it read?* By camsdk's RTSP client (TCP interleaved by default;
  ``transport=udp``, ``auto`` or ``http``; RTSPS with the shared TLS
  context), with the credentials beside the URL, never in it; redirects only
  to the caller's host. ``client=ffmpeg`` hands the stream to FFmpeg's RTSP
  client instead, after a DESCRIBE by camsdk's (see docs/drivers/rtsp.md).
- *who is there?* `connect` sends one DESCRIBE (``probe=0`` skips it) to check
  the credentials early and learn the codecs and whether there is audio;
  with ``backchannel=1`` it asks for the ONVIF audio backchannel too, which
  `open_talk` then uses (two-way audio).

Deadlines, reconnects with backoff and stall detection are the pipeline's
(see ``docs/drivers/rtsp.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl

from pydantic import Field, field_validator

from camsdk.driver import (
    CameraDriver,
    CameraInfo,
    CameraURL,
    Capability,
    ConfigurationError,
    DeviceError,
    DriverOptions,
    SessionDescription,
    StreamProfile,
    StreamSource,
    TalkChannel,
    UnsupportedCapabilityError,
    get_logger,
    rtsp_backchannel,
    rtsp_describe,
)

__all__ = ["RtspDriver", "RtspOptions", "SdpSummary", "derive_sub_stream", "summarise"]

log = get_logger("camsdk.drivers.rtsp")

class RtspOptions(DriverOptions):
    """Options of ``rtsp://`` cameras (URL query or keyword arguments of `camsdk.open`)."""

    transport: Literal["tcp", "udp", "auto", "http"] = Field(
        default="tcp",
        description="RTP over the RTSP TCP connection, over UDP, UDP then TCP, or RTSP over HTTP",
    )
    client: Literal["camsdk", "ffmpeg"] = Field(
        default="camsdk",
        description="camsdk's RTSP client, or FFmpeg's for streams camsdk cannot parse yet",
    )
    sub_path: str | None = Field(
        default=None,
        description="path (and query) of the 'sub' profile, e.g. /Streaming/Channels/102",
    )
    profiles: dict[str, str] = Field(
        default_factory=dict,
        description="profile name -> path (and query); in a URL: main:/ch1/main,sub:/ch1/sub",
    )
    probe: bool = Field(
        default=True, description="DESCRIBE in connect: check credentials, learn codecs"
    )
    backchannel: bool = Field(
        default=False, description="ask for the ONVIF audio backchannel (two-way audio)"
    )

    @field_validator("profiles", mode="before")
    @classmethod
    def _parse_profiles(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs: dict[str, str] = {}
            for item in filter(None, (part.strip() for part in value.split(","))):
                name, sep, path = item.partition(":")
                if not sep or not name.strip() or not path.strip():
                    raise ValueError("profiles are written name:/path,name:/path")
                pairs[name.strip()] = path.strip()
            return pairs
        return value

    @field_validator("sub_path", "profiles")
    @classmethod
    def _paths_are_paths(cls, value: Any) -> Any:
        paths = value.values() if isinstance(value, dict) else [value] if value else []
        for path in paths:
            if not path.startswith("/") or "://" in path or any(c in path for c in " \r\n"):
                raise ValueError(f"a profile path starts with '/' and has no spaces: {path!r}")
        return value


# -- vendor URL schemes ------------------------------------------------------------------

Query = tuple[tuple[str, str], ...]

# (path pattern, replacement) pairs: where a vendor puts the sub stream next to the main one.
_SUB_PATHS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Hikvision (and OEMs): channel N main is N01, sub is N02.
    (re.compile(r"^(?P<pre>(?:/ISAPI)?/Streaming/Channels/\d*?)01(?P<post>/?)$", re.I),
     r"\g<pre>02\g<post>"),
    # Older Hikvision firmware.
    (re.compile(r"^(?P<pre>/h26[45]/ch\d+/)main(?P<post>/av_stream)$", re.I),
     r"\g<pre>sub\g<post>"),
    # Reolink.
    (re.compile(r"^(?P<pre>/(?:h26[45])?Preview_\d+_)main$", re.I), r"\g<pre>sub"),
    # TP-Link Tapo / VIGI.
    (re.compile(r"^/stream1$"), "/stream2"),
    # Foscam.
    (re.compile(r"^/videoMain$"), "/videoSub"),
    # Uniview.
    (re.compile(r"^/media/video1$"), "/media/video2"),
    (re.compile(r"^(?P<pre>/unicast/c\d+/)s0(?P<post>/live)$"), r"\g<pre>s1\g<post>"),
)


def derive_sub_stream(path: str, query: Query) -> tuple[str, Query] | None:
    """The ``sub`` profile's path and query for a known vendor's main stream URL, if any."""
    if path.lower().rstrip("/") == "/cam/realmonitor":
        # Dahua, Amcrest, Lorex: subtype=0 is main, 1 the first sub stream.
        items = [(k, v) for k, v in query if k.lower() != "subtype"]
        subtype = next((v for k, v in query if k.lower() == "subtype"), "0")
        if subtype != "0":
            return None
        return path, (*items, ("subtype", "1"))
    for pattern, replacement in _SUB_PATHS:
        if pattern.match(path):
            return pattern.sub(replacement, path), query
    return None


def _split_path(text: str) -> tuple[str, Query]:
    path, _, query = text.partition("?")
    return path, tuple(parse_qsl(query, keep_blank_values=True))


# -- what a DESCRIBE said ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdpSummary:
    """What connect learned from the DESCRIBE answer."""

    video_codec: str | None = None
    audio_codec: str | None = None
    fps: float | None = None
    server: str = ""
    media: tuple[str, ...] = field(default=())
    backchannel: str | None = None


def summarise(desc: SessionDescription) -> SdpSummary:
    """The codecs, frame rate, media kinds and backchannel codec of a DESCRIBE answer."""
    video, audio, back = desc.video, desc.audio, desc.backchannel
    return SdpSummary(
        video_codec=(video.codec or video.encoding.lower()) if video is not None else None,
        audio_codec=(audio.codec or audio.encoding.lower()) if audio is not None else None,
        fps=video.framerate if video is not None else None,
        server=desc.server,
        media=tuple(m.kind for m in desc.media),
        backchannel=(back.codec or back.encoding.lower()) if back is not None else None,
    )


# -- the driver --------------------------------------------------------------------------


class RtspDriver(CameraDriver[RtspOptions]):
    """A camera that serves RTSP (see the module docstring and ``docs/drivers/rtsp.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("rtsp", "rtsps")
    display_name: ClassVar[str] = "RTSP camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT
        | Capability.STREAM
        | Capability.AUDIO
        | Capability.RECORD
        | Capability.TWO_WAY_AUDIO
    )
    requires: ClassVar[str] = "pip install camsdk"
    query_passthrough: ClassVar[bool] = True

    def setup(self) -> None:
        """Check the URL and build the profile table (no I/O)."""
        if self.url.scheme not in self.schemes:
            raise ConfigurationError(f"not an RTSP URL: {self.url.scheme}://",
                                     scheme=self.url.scheme, url=self.url.redacted())
        if not self.url.host:
            raise ConfigurationError("RTSP URL has no host", scheme=self.url.scheme,
                                     url=self.url.redacted())
        self._profiles = self._profile_table()
        self.sdp: SdpSummary | None = None

    # -- profiles ------------------------------------------------------------------------

    def _profile_table(self) -> dict[str, tuple[str, Query]]:
        url = self.url
        table: dict[str, tuple[str, Query]] = {"main": (url.path or "/", url.query)}
        derived = derive_sub_stream(url.path, url.query)
        if derived is not None:
            table["sub"] = derived
        if self.options.sub_path:
            table["sub"] = _split_path(self.options.sub_path)
        for name, path in self.options.profiles.items():
            table[name] = _split_path(path)
        return table

    @property
    def profile_names(self) -> tuple[str, ...]:
        """Profiles this camera is known to offer, ``main`` first."""
        return tuple(self._profiles)

    def _profile(self, profile: str) -> tuple[str, Query]:
        try:
            return self._profiles[profile]
        except KeyError:
            known = ", ".join(self._profiles)
            raise ConfigurationError(
                f"unknown profile {profile!r} (known: {known}); name more with sub_path= or "
                "profiles=name:/path",
                scheme=self.url.scheme, url=self.url.redacted(),
            ) from None

    def _credentials(self) -> tuple[str | None, str | None]:
        return self.username, self.password

    def profile_url(self, profile: str) -> str:
        """The profile's URL, without credentials."""
        path, query = self._profile(profile)
        url = CameraURL(self.url.scheme, self.url.host, self.url.port, path, query, None, None, "")
        return url.unsafe_str()

    # -- CameraDriver --------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """DESCRIBE the main profile (unless ``probe=0``) and report what it offers."""
        summary: SdpSummary | None = None
        offered = self.declared_capabilities & ~Capability.TWO_WAY_AUDIO
        if self.options.probe or self.options.backchannel:
            source = await self.stream_source("main")
            summary = await self._describe(source)
            self.sdp = summary
            if "audio" not in summary.media and summary.media:
                offered &= ~Capability.AUDIO
            if summary.backchannel is not None:
                offered |= Capability.TWO_WAY_AUDIO
        self.report_capabilities(offered)
        profiles = []
        for name in self._profiles:
            if name == "main" and summary is not None:
                profiles.append(StreamProfile(name=name, codec=summary.video_codec,
                                              fps=summary.fps, audio_codec=summary.audio_codec))
            else:
                profiles.append(StreamProfile(name=name))
        extra = {"server": summary.server} if summary is not None and summary.server else {}
        if summary is not None and summary.backchannel:
            extra["backchannel"] = summary.backchannel
        return CameraInfo(
            id=self.camera_id,
            name=self.url.host,
            model="RTSP camera",
            profiles=tuple(profiles),
            extra=extra,
        )

    async def _describe(self, source: StreamSource) -> SdpSummary:
        try:
            if self.options.backchannel:
                try:
                    return summarise(await rtsp_describe(self, source, backchannel=True))
                except UnsupportedCapabilityError:
                    log.info("%s has no ONVIF audio backchannel", self.url.redacted())
            return summarise(await rtsp_describe(self, source))
        except DeviceError as exc:
            # Busy (503) or odd answers: the stream pipeline retries with backoff.
            log.info("DESCRIBE of %s answered %s; capabilities unverified",
                     self.url.redacted(), exc.code or "an error")
            return SdpSummary()

    async def open_talk(self) -> TalkChannel:
        """The ONVIF audio backchannel of the main profile (``backchannel=1``)."""
        if Capability.TWO_WAY_AUDIO not in self.capabilities:
            raise UnsupportedCapabilityError(
                "no audio backchannel (open with backchannel=1 on a camera that has one)",
                scheme=self.url.scheme, url=self.url.redacted(),
            )
        return await rtsp_backchannel(self, await self.stream_source("main"))

    async def stream_source(self, profile: str) -> StreamSource:
        """The profile's URL; credentials and transport travel beside it."""
        return StreamSource(
            url=self.profile_url(profile),
            credentials=self.login(),
            transport=self.options.transport,
            client=self.options.client,
        )

    def __repr__(self) -> str:
        return f"RtspDriver({self.shown!r}, transport={self.options.transport!r})"
