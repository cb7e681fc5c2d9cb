"""`RtspDriver`: ``rtsp://`` and ``rtsps://`` cameras, read by the shared PyAV pipeline.

The driver answers three questions and leaves the rest to the facade and the
media pipeline (`StreamSession` + `PyAVReader`):

- *where is each profile?* The URL's path is ``main``; ``sub`` comes from
  ``sub_path=``, from ``profiles=``, or from the URL scheme of a vendor that
  makes it known (Hikvision ``/Streaming/Channels/101`` -> ``102``, Dahua
  ``subtype=0`` -> ``1``, Reolink ``_main`` -> ``_sub``, ...). The device's own
  query (``?channel=1&subtype=0``) stays in the URL (`query_passthrough`).
- *how does FFmpeg read it?* TCP interleaved by default (``transport=udp`` or
  ``auto``), credentials from `Credentials` percent-encoded into the URL and
  listed in `StreamSource.secrets` (FFmpeg answers Basic and Digest itself),
  FFmpeg's socket timeout set from ``stall_timeout`` as a backstop, and
  probing cut to the first packet so the first frame follows the first
  keyframe.
- *who is there?* `connect` sends one DESCRIBE (over TLS for ``rtsps``,
  verified unless ``verify_tls=False``) to check the credentials early and
  to learn the codecs and whether there is audio. ``probe=0`` skips it for
  devices that dislike extra connections; `connect` then does no I/O.

Deadlines, reconnects with backoff, stall detection and abandoning stuck
native calls are the pipeline's job (see ``docs/drivers/rtsp.md``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import secrets
import ssl
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl

from pydantic import Field, field_validator

from camsdk.driver import (
    USER_AGENT,
    AuthenticationError,
    CameraDriver,
    CameraInfo,
    CameraProtocolError,
    CameraUnreachableError,
    CameraURL,
    Capability,
    ConfigurationError,
    DriverOptions,
    StreamOpenError,
    StreamProfile,
    StreamSource,
    get_logger,
)

__all__ = ["RtspDriver", "RtspOptions", "SdpSummary", "derive_sub_stream"]

log = get_logger("camsdk.drivers.rtsp")

_USER_AGENT = USER_AGENT
_HEADER_LIMIT = 16 * 1024
_BODY_LIMIT = 64 * 1024
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}
# RTP encoding names (SDP rtpmap) -> FFmpeg codec names.
_ENCODINGS = {
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
    "g726-32": "adpcm_g726",
}
_STATIC_PAYLOADS = {"0": "pcm_mulaw", "8": "pcm_alaw", "26": "mjpeg", "14": "mp3"}


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


# -- a minimal DESCRIBE client -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdpSummary:
    """What connect learned from the DESCRIBE answer."""

    video_codec: str | None = None
    audio_codec: str | None = None
    fps: float | None = None
    server: str = ""
    media: tuple[str, ...] = field(default=())


def parse_sdp(text: str) -> SdpSummary:
    """Codecs and frame rate from an SDP body (lenient: unknown lines are skipped)."""
    video: str | None = None
    audio: str | None = None
    fps: float | None = None
    media: list[str] = []
    kind = ""
    payloads: list[str] = []
    names: dict[str, str] = {}

    def close_section() -> None:
        nonlocal video, audio
        if not kind or not payloads:
            return
        codec = names.get(payloads[0]) or _STATIC_PAYLOADS.get(payloads[0])
        if kind == "video" and video is None:
            video = codec or "unknown"
        elif kind == "audio" and audio is None:
            audio = codec or "unknown"

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            close_section()
            parts = line[2:].split()
            kind = parts[0].lower() if parts else ""
            payloads = parts[3:] if len(parts) > 3 else []
            names = {}
            media.append(kind)
        elif line.startswith("a=rtpmap:"):
            pt, _, rest = line[len("a=rtpmap:"):].partition(" ")
            encoding = rest.split("/", 1)[0].strip().lower()
            names[pt.strip()] = _ENCODINGS.get(encoding, encoding)
        elif line.startswith("a=framerate:") and kind == "video":
            with contextlib.suppress(ValueError):
                fps = float(line[len("a=framerate:"):].strip())
    close_section()
    return SdpSummary(video, audio, fps, "", tuple(media))


@dataclass(slots=True)
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k == name.lower()), "")

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]


async def _read_reply(reader: asyncio.StreamReader) -> _Reply:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise CameraProtocolError("RTSP reply header is too large") from exc
    except asyncio.IncompleteReadError as exc:
        raise CameraUnreachableError("the camera closed the RTSP connection") from exc
    lines = head.decode("utf-8", "replace").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("RTSP/") or not (
        status_line[1].isdigit()
    ):
        raise CameraProtocolError("the device does not speak RTSP")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip().lower(), value.strip()))
    length_text = next((v for k, v in headers if k == "content-length"), "0")
    length = int(length_text) if length_text.isdigit() else 0
    if length > _BODY_LIMIT:
        raise CameraProtocolError("RTSP reply body is too large")
    try:
        body = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise CameraUnreachableError("the camera closed the RTSP connection") from exc
    return _Reply(int(status_line[1]), headers, body)


_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def _authorization(
    challenges: list[str], username: str, password: str, method: str, uri: str
) -> str | None:
    """An Authorization header answering the strongest challenge we speak (Digest MD5, Basic)."""
    for challenge in challenges:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() != "digest":
            continue
        params = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _AUTH_PARAM.finditer(rest)
        }
        if params.get("algorithm", "MD5").upper() not in ("MD5", ""):
            continue
        realm, nonce = params.get("realm", ""), params.get("nonce", "")

        def md5(text: str) -> str:
            return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

        ha1 = md5(f"{username}:{realm}:{password}")
        ha2 = md5(f"{method}:{uri}")
        fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"',
                  f'uri="{uri}"']
        qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            cnonce, nc = secrets.token_hex(8), "00000001"
            response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        return "Digest " + ", ".join(fields)
    if any(c.lower().startswith("basic") for c in challenges):
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return f"Basic {token}"
    return None


# -- the driver --------------------------------------------------------------------------


class RtspDriver(CameraDriver[RtspOptions]):
    """A camera that serves RTSP (see the module docstring and ``docs/drivers/rtsp.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("rtsp", "rtsps")
    display_name: ClassVar[str] = "RTSP camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT | Capability.STREAM | Capability.AUDIO | Capability.RECORD
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
        if self.options.probe:
            summary = await self._describe("main")
            self.sdp = summary
            if "audio" not in summary.media and summary.media:
                self.report_capabilities(self.declared_capabilities & ~Capability.AUDIO)
        profiles = []
        for name in self._profiles:
            if name == "main" and summary is not None:
                profiles.append(StreamProfile(name=name, codec=summary.video_codec,
                                              fps=summary.fps, audio_codec=summary.audio_codec))
            else:
                profiles.append(StreamProfile(name=name))
        extra = {"server": summary.server} if summary is not None and summary.server else {}
        return CameraInfo(
            id=self.camera_id,
            name=self.url.host,
            model="RTSP camera",
            profiles=tuple(profiles),
            extra=extra,
        )

    async def stream_source(self, profile: str) -> StreamSource:
        """The profile's URL; credentials and transport travel beside it."""
        return StreamSource(
            url=self.profile_url(profile),
            credentials=self.login(),
            transport=self.options.transport,
            client=self.options.client,
        )

    # -- DESCRIBE ------------------------------------------------------------------------

    async def _describe(self, profile: str) -> SdpSummary:
        url = self.url
        tls: ssl.SSLContext | None = None
        if url.scheme == "rtsps":
            tls = ssl.create_default_context()
            if not self.config.verify_tls:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
        port = url.port or _DEFAULT_PORTS[url.scheme]
        uri = self.profile_url(profile)
        redacted = url.redacted()
        try:
            reader, writer = await asyncio.open_connection(
                url.host, port, ssl=tls, limit=_HEADER_LIMIT
            )
        except ssl.SSLError as exc:
            raise CameraUnreachableError(f"TLS handshake failed: {exc.reason}",
                                         scheme=url.scheme, url=redacted) from exc
        except OSError as exc:
            raise CameraUnreachableError(f"cannot connect: {exc.strerror or exc}",
                                         scheme=url.scheme, url=redacted) from exc
        try:
            return await self._describe_on(reader, writer, uri)
        except (CameraProtocolError, CameraUnreachableError, AuthenticationError,
                StreamOpenError) as exc:
            exc.scheme, exc.url = url.scheme, redacted
            raise
        except OSError as exc:
            raise CameraUnreachableError(f"connection failed: {exc.strerror or exc}",
                                         scheme=url.scheme, url=redacted) from exc
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def _describe_on(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, uri: str
    ) -> SdpSummary:
        username, password = self._credentials()
        authorization: str | None = None
        reply: _Reply | None = None
        for cseq in (1, 2):
            lines = [f"DESCRIBE {uri} RTSP/1.0", f"CSeq: {cseq}", "Accept: application/sdp",
                     f"User-Agent: {_USER_AGENT}"]
            if authorization:
                lines.append(f"Authorization: {authorization}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
            reply = await _read_reply(reader)
            if reply.status != 401 or authorization is not None or username is None:
                break
            authorization = _authorization(reply.all("www-authenticate"), username,
                                           password or "", "DESCRIBE", uri)
            if authorization is None:
                raise AuthenticationError("the camera asks for an authentication scheme "
                                          "camsdk does not speak")
        assert reply is not None
        if reply.status in (401, 403):
            raise AuthenticationError(
                "the camera rejected the credentials" if username is not None
                else "the camera needs credentials (pass camsdk.Credentials)"
            )
        if reply.status == 404:
            raise StreamOpenError(f"no stream at {_path_of(uri)} (RTSP 404)")
        server = reply.header("server")
        if reply.status != 200:
            # Busy (503) or odd answers: the stream pipeline retries with backoff.
            log.info("DESCRIBE of %s answered %d; capabilities unverified", uri, reply.status)
            return SdpSummary(server=server)
        summary = parse_sdp(reply.body.decode("utf-8", "replace"))
        if summary.video_codec is None:
            log.info("DESCRIBE of %s has no video track in its SDP", uri)
        return SdpSummary(summary.video_codec, summary.audio_codec, summary.fps, server,
                          summary.media)

    def __repr__(self) -> str:
        return f"RtspDriver({self.url.redacted()!r}, transport={self.options.transport!r})"



def _path_of(uri: str) -> str:
    return "/" + uri.split("://", 1)[-1].partition("/")[2]
