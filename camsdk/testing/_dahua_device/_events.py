"""Event streams of the simulated device: the CGI attach stream and the RPC2 notify stream.

`EventBus.emit` hands an event to every open stream. A CGI stream sends it
as a multipart text part (``Code=...;action=...;index=...[;data={...}]``)
and a ``Heartbeat`` part whenever ``heartbeat`` seconds pass without one;
an RPC2 notify stream sends ``<script>var json={...};receiveMessage(json);
</script>`` lines with ``client.notifyEventStream`` messages. Faults:
`EventBus.silence_streams` makes the streams open now go quiet for good
(a half-open connection: nothing sent, socket kept), `EventBus.inject`
writes raw bytes into CGI streams (oversized or broken parts), and
``part_length_error`` declares each part's Content-Length wrong by that many
bytes, as some firmware does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BOUNDARY", "EmittedEvent", "EventBus"]

BOUNDARY = "myboundary"
_QUEUE = 4096


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """One event as `DahuaDevice.emit` queued it."""

    code: str
    action: str = "Start"
    index: int = 0
    data: Any = None
    #: ``time.perf_counter()`` at `EventBus.emit` (benchmarks).
    emitted: float = field(default_factory=time.perf_counter)

    def text(self) -> str:
        """The CGI form (``data`` pretty-printed over several lines, as firmware does)."""
        line = f"Code={self.code};action={self.action};index={self.index}"
        if self.data is not None:
            line += ";data=" + json.dumps(self.data, indent=3)
        return line


class _Listener:
    def __init__(self, kind: str, session: str = "") -> None:
        self.kind = kind
        self.session = session
        self.queue: asyncio.Queue[EmittedEvent | bytes] = asyncio.Queue(maxsize=_QUEUE)
        self.silenced = False


class EventBus:
    """Every open event stream of the device, and the faults that bend them."""

    def __init__(self) -> None:
        self._listeners: set[_Listener] = set()
        self._hold = asyncio.Event()  # never set: a silenced stream waits on it for good
        #: Extra bytes declared in each CGI part's Content-Length (a firmware quirk).
        self.part_length_error = 0
        #: Events emitted so far.
        self.emitted = 0

    def streams(self, kind: str | None = None) -> int:
        """Streams open now (``cgi``, ``rpc2`` or both)."""
        return sum(1 for listener in self._listeners if kind in (None, listener.kind))

    def backlog(self) -> int:
        """Events queued and not yet written, on the busiest stream (benchmarks pace by it)."""
        return max((listener.queue.qsize() for listener in self._listeners), default=0)

    def emit(self, event: EmittedEvent) -> None:
        """Send ``event`` on every stream (a full stream queue drops it)."""
        self.emitted += 1
        for listener in self._listeners:
            if listener.queue.full():
                continue
            listener.queue.put_nowait(event)

    def inject(self, raw: bytes) -> None:
        """Write ``raw`` as it is into every CGI stream."""
        for listener in self._listeners:
            if listener.kind == "cgi" and not listener.queue.full():
                listener.queue.put_nowait(raw)

    def silence_streams(self) -> int:
        """Make the streams open now send nothing more, sockets kept open; how many."""
        count = 0
        for listener in self._listeners:
            listener.silenced = True
            count += 1
        return count

    def _part(self, body: bytes) -> bytes:
        length = len(body) + self.part_length_error
        return (f"--{BOUNDARY}\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\n\r\n"
                .encode() + body + b"\r\n")

    async def cgi_stream(self, heartbeat: float) -> AsyncIterator[bytes]:
        """The body of one ``eventManager.cgi?action=attach`` answer."""
        listener = _Listener("cgi")
        self._listeners.add(listener)
        try:
            while True:
                try:
                    item: EmittedEvent | bytes | None = await asyncio.wait_for(
                        listener.queue.get(), heartbeat
                    )
                except TimeoutError:
                    item = None
                if listener.silenced:
                    await self._hold.wait()
                if item is None:
                    yield self._part(b"Heartbeat")
                elif isinstance(item, bytes):
                    yield item
                else:
                    yield self._part(item.text().encode())
        finally:
            self._listeners.discard(listener)

    async def rpc2_stream(self, session: str, sid: int) -> AsyncIterator[bytes]:
        """The body of one ``/SubscribeNotify.cgi`` answer for an attached RPC2 session."""
        listener = _Listener("rpc2", session)
        self._listeners.add(listener)
        try:
            while True:
                item = await listener.queue.get()
                if listener.silenced:
                    await self._hold.wait()
                if isinstance(item, bytes):
                    continue
                message = {
                    "method": "client.notifyEventStream",
                    "session": session,
                    "params": {"SID": sid, "eventList": [{
                        "Action": item.action, "Code": item.code, "Index": item.index,
                        "Data": item.data if item.data is not None else {},
                    }]},
                }
                yield (f"<script>var json={json.dumps(message)};receiveMessage(json);"
                       "</script>\r\n").encode()
        finally:
            self._listeners.discard(listener)
