"""One event connection per Dahua device, its events routed to each channel's camera.

Every camera of a device (the 32 channels of an NVR, or the one channel of an
IP camera) subscribes to the same `EventSource`; it holds one connection to
the device while anyone listens, and routes each event by its channel index
(`channel_of`), device-wide events (alarm inputs, door stations) to all.

The connection is the CGI attach stream
(``/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=N``), or RPC2
(``eventManager.attach`` then the ``/SubscribeNotify.cgi`` stream, kept alive
with ``global.keepAlive``) where the CGI answers 404/501 or the ``events``
option asks for it. Liveness is bytes received: the CGI stream sends a
``Heartbeat`` part every ``heartbeat`` seconds, and ``heartbeat_misses``
heartbeats without a byte mean a dead (half-open) connection. A failed or
dead connection is opened again after a capped, fully jittered backoff
(``backoff_base``/``backoff_cap`` of the camera config), forever, except
after an `AuthenticationError`: that ends every subscription at once and
nothing is retried (the device would lock the account).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from camsdk.driver import (
    AuthenticationError,
    BodyReader,
    CameraClosedError,
    CameraEvent,
    CameraProtocolError,
    CameraTimeoutError,
    CamError,
    DeviceError,
    EventFanout,
    EventQueue,
    backoff_delay,
    boundary_from_content_type,
    get_logger,
)

from ._api import is_unsupported
from ._events import DahuaEvent, JsonObjects, channel_of, parse_event_text, parse_notify, to_events
from ._framing import EventFramingError, EventParts
from ._text import error_reason

if TYPE_CHECKING:  # pragma: no cover
    from ._session import DahuaSession

__all__ = ["EventSource"]

log = get_logger("camsdk.dahua.events")

#: Events a camera may fall behind by before the oldest are dropped (and counted).
QUEUE_SIZE = 1024
#: Largest multipart part of the event stream (an event with a big ``data`` blob).
MAX_PART = 256 * 1024


class _Subscriber(EventQueue[CameraEvent]):
    """One camera's bounded queue of events."""

    def __init__(self, channel: int) -> None:
        super().__init__(QUEUE_SIZE)
        self.channel = channel


class EventSource:
    """The device's event connection (see the module docstring). No I/O until subscribed."""

    #: Seconds between RPC2 ``global.keepAlive`` calls (the RPC2 stream's liveness unit).
    keepalive_interval = 20.0

    def __init__(self, session: DahuaSession) -> None:
        self._session = session
        options = session.options
        self.heartbeat = options.heartbeat
        self.misses = options.heartbeat_misses
        self.mode = "rpc2" if options.events == "rpc2" else "cgi"
        self._fallback = options.events == "auto"
        self._fanout: EventFanout[_Subscriber] = EventFanout(
            self._run, name="dahua-events", absorb=())
        self._closed = False
        #: Connections opened, and events read (tests and benchmarks look).
        self.connections = 0
        self.received = 0

    def __repr__(self) -> str:
        return f"<EventSource {self._session.shown} {self.mode} subscribers={self.subscribers}>"

    @property
    def subscribers(self) -> int:
        """Cameras listening now."""
        return len(self._fanout.subscribers)

    async def events(self, channel: int) -> AsyncIterator[CameraEvent]:
        """The raw events of ``channel`` (and device-wide ones) until closed or refused."""
        if self._closed:
            raise CameraClosedError("the device session is closed", scheme="dahua",
                                    url=self._session.shown)
        async with self._fanout.join(_Subscriber(channel)) as sub:
            async for event in sub:
                yield event

    async def aclose(self) -> None:
        """End every subscription and the connection. Idempotent."""
        self._closed = True
        self._fanout.fail_all(CameraClosedError("the device session closed", scheme="dahua",
                                                url=self._session.shown))
        await self._fanout.stop()

    def _dispatch(self, found: list[DahuaEvent]) -> None:
        for event in found:
            self.received += 1
            channel = channel_of(event)
            normalised = to_events(event)
            if not normalised:
                continue
            for sub in self._fanout.subscribers:
                if channel is None or sub.channel == channel:
                    for item in normalised:
                        sub.put(item)

    async def _run(self) -> None:
        config = self._session.config
        attempt = 0
        while self._fanout.subscribers:
            try:
                self._session.api.check_refused()
                async for found in self._connection():
                    attempt = 0
                    self._dispatch(found)
                reason = "the device ended the event stream"
            except AuthenticationError as exc:
                self._fanout.fail_all(exc)
                return
            except CamError as exc:
                if self.mode == "cgi" and self._fallback and is_unsupported(exc):
                    log.info("%s: no CGI event stream (%s); using RPC2", self._session.shown,
                             exc)
                    self.mode, self._fallback = "rpc2", False
                    continue
                reason = str(exc)
            log.info("%s: event connection lost (%s); reconnecting", self._session.shown,
                     reason)
            delay = backoff_delay(attempt, base=config.backoff_base, cap=config.backoff_cap)
            attempt += 1
            await asyncio.sleep(delay)

    def _connection(self) -> AsyncIterator[list[DahuaEvent]]:
        self.connections += 1
        return self._cgi_stream() if self.mode == "cgi" else self._rpc2_stream()

    def _silent(self, idle: float) -> CamError:
        return CameraTimeoutError(
            f"event stream: no byte for {idle:g} s ({self.misses} heartbeats); "
            "the connection is dead",
            scheme="dahua", url=self._session.shown,
        )

    async def _cgi_stream(self) -> AsyncIterator[list[DahuaEvent]]:
        """Events (lists, one per part; heartbeats as empty lists) of one attach stream."""
        idle = float(self.heartbeat * self.misses)
        http = self._session.http
        try:
            body = await http.open(
                "GET", "/cgi-bin/eventManager.cgi",
                params={"action": "attach", "codes": "[All]", "heartbeat": str(self.heartbeat)},
                idle_timeout=idle, on_idle=lambda: self._silent(idle), action="event stream",
                timeout=self._session.config.request_timeout,
            )
        except AuthenticationError as exc:
            self._session.api.refused = exc
            raise
        try:
            boundary = boundary_from_content_type(body.response.headers.get("content-type", ""))
            if boundary is None:
                await self._check_error_body(body)
            parser = EventParts(boundary, max_part=MAX_PART)
            while True:
                chunk = await body.chunk()
                try:
                    parts = parser.feed(chunk) if chunk is not None else parser.finish()
                except EventFramingError as exc:
                    raise CameraProtocolError(
                        f"event stream: broken multipart framing ({exc})",
                        scheme="dahua", url=self._session.shown,
                    ) from exc
                found: list[DahuaEvent] = []
                for part in parts:
                    text = part.decode("utf-8", "replace")
                    if text.strip() != "Heartbeat":
                        found += parse_event_text(text)
                yield found
                if chunk is None:
                    return
        finally:
            await body.aclose()

    async def _check_error_body(self, body: BodyReader) -> None:
        """A body that is not multipart may be an ``Error`` answer (with HTTP 200)."""
        head = await body.peek(256)
        reason = error_reason(head.decode("utf-8", "replace"))
        if reason is not None:
            raise DeviceError(
                f"event stream: the device answered Error ({reason or 'no reason given'})",
                scheme="dahua", url=self._session.shown, code=reason or "Error",
            )

    async def _rpc2_stream(self) -> AsyncIterator[list[DahuaEvent]]:
        """Events of an RPC2 attach: the notify stream, with keep-alives beside it."""
        rpc = self._session.rpc2()
        await rpc.call("eventManager.attach", {"codes": ["All"]})
        session = rpc.session or ""
        idle = self.keepalive_interval * self.misses
        body = await self._session.http.open(
            "GET", "/SubscribeNotify.cgi", params={"sessionId": session},
            headers={"Cookie": f"DhWebClientSessionID={session}"}, auth=False,
            idle_timeout=idle, on_idle=lambda: self._silent(idle),
            action="RPC2 notify stream", timeout=self._session.config.request_timeout,
        )

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(self.keepalive_interval)
                await rpc.keep_alive()

        loop = asyncio.get_running_loop()
        keeper = loop.create_task(keep_alive(), name="dahua-keepalive")
        reader: asyncio.Task[bytes | None] | None = None
        try:
            scanner = JsonObjects(max_object=MAX_PART)
            while True:
                reader = loop.create_task(body.chunk(), name="dahua-notify-read")
                await asyncio.wait({reader, keeper}, return_when=asyncio.FIRST_COMPLETED)
                if not reader.done():
                    # The keep-alive failed (session gone, device down): that ends the stream.
                    keeper.result()
                    raise CameraProtocolError(
                        "RPC2 keep-alive ended", scheme="dahua", url=self._session.shown
                    )
                chunk = reader.result()
                reader = None
                if chunk is None:
                    return
                found: list[DahuaEvent] = []
                for message in scanner.feed(chunk):
                    found += parse_notify(message)
                yield found
        finally:
            for task in (reader, keeper):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, CamError):
                        await task
            await body.aclose()
