"""One event websocket per console, fanned out to every camera that listens.

The hub's cameras share the console session, and with it one websocket:
`ConsoleEvents` opens it when the first camera subscribes and closes it
when the last one leaves. The loop:

- private API: ``/proxy/protect/ws/updates?lastUpdateId=<bootstrap's>``,
  binary packets (`_codec`); Integration API:
  ``/proxy/protect/integration/v1/subscribe/events``, JSON text messages
  ``{"type": "add"|"update", "item": {...}}``;
- liveness is bytes received (the kit's `DeviceWebSocket`); a dead or failed socket
  is followed by a full reconnect with a fresh bootstrap, after a capped
  exponential backoff with full jitter (never giving up);
- after a reconnect the console's recent events are read
  (``/proxy/protect/api/events``) and `EventTracker.recover` emits exactly
  the starts and ends that were missed;
- an `AuthenticationError` ends every subscription at once: no retry
  (consoles lock out); the refused credentials are never sent again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from camsdk.driver import (
    AuthenticationError,
    CameraEvent,
    CamError,
    DeviceWebSocket,
    EventFanout,
    EventQueue,
    backoff_delay,
    get_logger,
)

from ._classify import EventTracker
from ._codec import decode_packet
from ._ws import open_socket

if TYPE_CHECKING:  # pragma: no cover
    from ._session import ConsoleSession

__all__ = ["ConsoleEvents"]

log = get_logger("camsdk.drivers.unifi.events")

_QUEUE = 1024
# Recovery looks this far back before the disconnect (clock skew, slow updates).
_MARGIN_MS = 5000


class _Subscriber(EventQueue[CameraEvent]):
    """One camera's events (a slow camera loses its oldest, never stalls the others)."""

    def __init__(self, camera: str) -> None:
        super().__init__(_QUEUE)
        self.camera = camera


class ConsoleEvents:
    """The console's event websocket, shared by its cameras (module docstring)."""

    def __init__(self, session: ConsoleSession, *, kind: str) -> None:
        self.session = session
        self.kind = kind  # "private" or "integration"
        self._fanout: EventFanout[_Subscriber] = EventFanout(
            self._run, name=f"camsdk-unifi-events-{session.host}")
        self._camera_ids: dict[str, str] = {}
        self._tracker = EventTracker(self._camera_ids)
        self._socket: DeviceWebSocket | None = None
        self._last_update_id = ""
        #: Connections opened, reconnects, messages decoded (tests and benchmarks read them).
        self.connects = 0
        self.messages = 0
        self.connected = asyncio.Event()

    async def subscribe(self, protect_id: str, camera_id: str) -> AsyncIterator[CameraEvent]:
        """The events of one camera until cancelled (or an `AuthenticationError`)."""
        self.session.check_refused()  # no I/O at all for credentials already refused
        self._camera_ids[protect_id] = camera_id
        try:
            async with self._fanout.join(_Subscriber(protect_id)) as sub:
                async for event in sub:
                    yield event
        finally:
            if not any(s.camera == protect_id for s in self._fanout.subscribers):
                self._camera_ids.pop(protect_id, None)

    async def aclose(self) -> None:
        """Stop the websocket loop (the session closes)."""
        await self._fanout.stop()

    def _dispatch(self, events: list[CameraEvent]) -> None:
        for event in events:
            protect = str(event.extra.get("protect_camera", ""))
            for sub in self._fanout.subscribers:
                if sub.camera == protect:
                    sub.put(event)

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        config = self.session.config
        attempt = 0
        disconnected_ms: int | None = None
        while self._fanout.subscribers:
            try:
                await self._prepare(disconnected_ms)
                token = self.session.token
                try:
                    self._socket = await self._open()
                except AuthenticationError:
                    if self.kind != "private" or self.session.credentials is None:
                        raise
                    await self.session.relogin(token)  # a lapsed cookie: one new login
                    self._socket = await self._open()
                if disconnected_ms is not None:
                    # After the socket is open: what ends meanwhile arrives on it.
                    self._dispatch(self._tracker.recover(await self._recent(disconnected_ms)))
                self.connects += 1
                self.connected.set()
                attempt, disconnected_ms = 0, None
                await self._read(self._socket)
            except asyncio.CancelledError:
                raise
            except AuthenticationError as exc:
                log.warning("event websocket of %s: %s; stopped", self.session.shown, exc)
                for sub in self._fanout.subscribers:
                    sub.fail(exc)
                return
            except (CamError, OSError, ValueError) as exc:
                log.info("event websocket of %s lost: %s", self.session.shown, exc)
            finally:
                self.connected.clear()
                socket, self._socket = self._socket, None
                if socket is not None:
                    await socket.aclose()
            if disconnected_ms is None:
                disconnected_ms = int(time.time() * 1000)
            # Full jitter: consoles see reconnects spread, never a thundering herd.
            delay = backoff_delay(attempt, base=config.backoff_base, cap=config.backoff_cap)
            attempt += 1
            await asyncio.sleep(delay)

    async def _prepare(self, disconnected_ms: int | None) -> None:
        """A fresh bootstrap after a disconnect (for ``lastUpdateId``)."""
        if self.kind == "private":
            console, _ = await self.session.bootstrap(fresh=disconnected_ms is not None)
            self._last_update_id = console.last_update_id

    async def _recent(self, since_ms: int) -> list[Mapping[str, Any]]:
        if self.session.mode != "private":
            return []  # the Integration API lists no past events; updates continue them
        now = int(time.time() * 1000)
        response = await self.session.request(
            "GET", "/proxy/protect/api/events", action="recent events",
            params={"start": str(since_ms - _MARGIN_MS), "end": str(now),
                    "limit": str(self.session.options.max_events)},
        )
        data = response.json()
        return [e for e in data if isinstance(e, Mapping)] if isinstance(data, list) else []

    async def _open(self) -> DeviceWebSocket:
        window = self.session.options.liveness
        if self.kind == "private":
            path = f"/proxy/protect/ws/updates?lastUpdateId={self._last_update_id}"
            return await open_socket(self.session, path, window=window, action="updates websocket")
        return await open_socket(self.session, "/proxy/protect/integration/v1/subscribe/events",
                                 window=window, action="events websocket")

    async def _read(self, socket: DeviceWebSocket) -> None:
        while True:
            message = await socket.recv()
            self.messages += 1
            if self.kind == "private":
                if not isinstance(message, bytes):
                    continue
                packet = decode_packet(message)
                if packet.model_key != "event" or not isinstance(packet.data, dict):
                    continue  # cameras, lights, the NVR ...: unknown model keys are ignored
                self._dispatch(self._tracker.update(packet.kind, packet.id, packet.data))
            else:
                self._dispatch(self._integration(message))

    def _integration(self, message: bytes | str) -> list[CameraEvent]:
        try:
            data = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            log.debug("events websocket: a message that is not JSON, skipped")
            return []
        if not isinstance(data, Mapping) or not isinstance(data.get("item"), Mapping):
            return []
        item = data["item"]
        if item.get("modelKey", "event") != "event":
            return []
        return self._tracker.update(str(data.get("type", "")), str(item.get("id", "")), item)
