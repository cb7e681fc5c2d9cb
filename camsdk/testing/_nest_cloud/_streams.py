"""Live streams of the simulated cloud: RTSP with the token in the URL, and WebRTC answers.

A live stream lives ``ttl`` seconds (five minutes at Google) from its
generation or last extension, on the simulator's clock. One that passes
its expiry while still in use (neither extended, replaced nor stopped in
time) is counted in ``lapsed``: a gap a viewer would have seen. A lapsed
WebRTC stream is closed (its answerer hangs up); a lapsed RTSP token is
refused on the next connection.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from camsdk._rtsp._server_wire import Request as _Request
from camsdk._rtsp._server_wire import Response as _Response
from camsdk.testing._rtsp_server import RtspServer, _Connection

__all__ = ["LiveStream", "StreamBook", "TokenRtspServer"]


class TokenRtspServer(RtspServer):
    """An `RtspServer` that admits a DESCRIBE only with a live ``?auth=`` stream token."""

    def __init__(self, *args: Any, admit: Callable[[str], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._admit = admit
        #: Requests refused for a missing, wrong or expired token.
        self.refused_tokens = 0

    async def _dispatch(self, conn: _Connection, req: _Request) -> _Response:
        if req.method == "DESCRIBE":  # the session it opens is then the token's
            token = parse_qs(urlsplit(req.uri).query).get("auth", [""])[0]
            if not self._admit(token):
                self.refused_tokens += 1
                return _Response(401)
        return await super()._dispatch(conn, req)


@dataclass(slots=True)
class LiveStream:
    """One generated stream: its device, tokens or media session, and expiry."""

    device: str
    protocol: str
    expires: float
    session: str = ""
    stream_token: str = ""
    extension_token: str = ""
    answerer: Any = None
    stopped: bool = False
    extensions: int = 0
    history: list[float] = field(default_factory=list)


class StreamBook:
    """Every live stream handed out, by token and media session id."""

    def __init__(self, *, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self.streams: list[LiveStream] = []
        self._by_key: dict[str, LiveStream] = {}
        #: Streams generated, extended, refused an extension, stopped, and lapsed in use.
        self.generated = 0
        self.extended = 0
        self.refused = 0
        self.stopped = 0
        self.lapsed = 0

    def rtsp(self, device: str) -> LiveStream:
        """A new RTSP stream of ``device`` with fresh tokens."""
        stream = LiveStream(device, "RTSP", self._clock() + self.ttl,
                            stream_token="g.0.sim-" + secrets.token_urlsafe(24),
                            extension_token="CjY5sim" + secrets.token_urlsafe(24))
        self._add(stream, stream.extension_token)
        return stream

    def webrtc(self, device: str, answerer: Any) -> LiveStream:
        """A new WebRTC stream of ``device`` answered by ``answerer``."""
        stream = LiveStream(device, "WEB_RTC", self._clock() + self.ttl,
                            session="sim-" + secrets.token_urlsafe(24), answerer=answerer)
        self._add(stream, stream.session)
        return stream

    def _add(self, stream: LiveStream, key: str) -> None:
        self.generated += 1
        self.streams.append(stream)
        self._by_key[key] = stream

    def find(self, key: str) -> LiveStream | None:
        """The stream of an extension token or media session id."""
        return self._by_key.get(key)

    def live(self, stream: LiveStream) -> bool:
        """Whether ``stream`` is neither stopped nor expired."""
        return not stream.stopped and stream.expires > self._clock()

    def admit_rtsp(self, token: str) -> bool:
        """Whether an RTSP connection with stream token ``token`` may play."""
        return any(s.stream_token == token and self.live(s) for s in self.streams
                   if s.protocol == "RTSP")

    def extend(self, stream: LiveStream) -> None:
        """Another ``ttl`` from now."""
        stream.history.append(self._clock())
        stream.expires = self._clock() + self.ttl
        stream.extensions += 1
        self.extended += 1
        if stream.protocol == "RTSP":
            self._by_key.pop(stream.extension_token, None)
            stream.stream_token = "g.0.sim-" + secrets.token_urlsafe(24)
            stream.extension_token = "CjY5sim" + secrets.token_urlsafe(24)
            self._by_key[stream.extension_token] = stream

    def stop(self, stream: LiveStream) -> None:
        """Stopped by the client."""
        if not stream.stopped:
            stream.stopped = True
            self.stopped += 1

    def sweep(self) -> list[LiveStream]:
        """Streams whose expiry passed while in use (each counted once): they lapse."""
        now = self._clock()
        lapsed = [s for s in self.streams if not s.stopped and s.expires <= now]
        for stream in lapsed:
            stream.stopped = True
            self.lapsed += 1
        # Old records go: a long benchmark must not grow without bound.
        if len(self.streams) > 256:
            keep = [s for s in self.streams if not s.stopped]
            self.streams = keep + [s for s in self.streams if s.stopped][-64:]
        return lapsed
