"""`AlertHub`: one alert stream per device, fanned out to its cameras.

A device (an NVR above all) caps the alert-stream connections it accepts,
so every camera and hub on one login shares a single
``/ISAPI/Event/notification/alertStream``: the first subscriber starts the
reader task, the last one stops it. Each subscriber gets the alerts of its
channel (and the device-wide ones) in its own bounded `Inbox`.

The reader keeps the stream alive by itself:

- **liveness** is bytes received: no byte for ``heartbeat * heartbeats_missed``
  seconds (the device sends a heartbeat every ``heartbeat`` seconds) means
  the connection is dead, half-open socket or not: it is dropped and opened
  again;
- **reconnects** use capped exponential backoff with full jitter, forever,
  and every subscriber sees a `Connection` change (down, then up again);
- **authentication failures stop it at once**: every subscriber receives the
  `camsdk.AuthenticationError` and nothing is retried (the client refuses
  locally from then on, see `_api`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CamError,
    MultipartError,
    StreamStalledError,
    backoff_delay,
    boundary_from_content_type,
    get_logger,
    redact_text,
    stop_task,
)
from camsdk.driver import xml as x

from ._alerts import Alert, parse_alert
from ._api import SCHEME, HikSession, IsapiClient
from ._framing import AlertFramer
from ._options import HikvisionHubOptions

__all__ = ["AlertHub", "Connection", "Inbox", "alert_hub"]

log = get_logger("camsdk.hikvision.events")

ALERT_PATH = "/ISAPI/Event/notification/alertStream"
#: Largest alert part accepted (an alert is ~1 kB; smart events attach pictures).
MAX_PART = 2 * 1024 * 1024
#: Alerts queued per subscriber before the oldest are dropped.
INBOX_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Connection:
    """The alert stream went down (``up=False``, with why) or came back."""

    up: bool
    reason: str = ""


Item = Alert | Connection | BaseException


class Inbox:
    """One subscriber's bounded queue of alerts for its channel (drops the oldest)."""

    def __init__(self, channel: int | None) -> None:
        self.channel = channel
        self._items: deque[Item] = deque(maxlen=INBOX_SIZE)
        self._waiter: asyncio.Future[None] | None = None
        #: Alerts lost because the subscriber fell behind.
        self.dropped = 0

    def accepts(self, alert: Alert) -> bool:
        """Alerts of its channel, and device-wide ones."""
        return self.channel is None or alert.channel is None or alert.channel == self.channel

    def put(self, item: Item) -> None:
        """Queue ``item`` (never waits)."""
        if len(self._items) == INBOX_SIZE:
            self.dropped += 1
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self, timeout: float | None) -> list[Item]:
        """Everything queued, waiting up to ``timeout`` seconds for something ([] if nothing)."""
        if not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                if timeout is None:
                    await waiter
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.0, timeout)):
                            await waiter
            finally:
                self._waiter = None
        items = list(self._items)
        self._items.clear()
        return items


class AlertHub:
    """The shared alert stream of one device session (see the module docstring)."""

    def __init__(self, client: IsapiClient, *, idle_timeout: float,
                 backoff_base: float, backoff_cap: float) -> None:
        self._client = client
        self.idle_timeout = idle_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._inboxes: list[Inbox] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: Connections opened, alerts received, heartbeats seen, malformed parts skipped.
        self.connects = 0
        self.alerts = 0
        self.heartbeats = 0
        self.malformed = 0

    @property
    def subscribers(self) -> int:
        """Inboxes attached now."""
        return len(self._inboxes)

    def subscribe(self, channel: int | None) -> Inbox:
        """A new inbox for ``channel`` (None: every alert); starts the reader if idle."""
        inbox = Inbox(channel)
        if self._closed:
            inbox.put(CamError("the device session is closed", scheme=SCHEME,
                               url=self._client.errors.url))
            return inbox
        self._inboxes.append(inbox)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"camsdk-hikvision-alerts-{id(self):x}"
            )
        return inbox

    async def unsubscribe(self, inbox: Inbox) -> None:
        """Detach ``inbox``; the last one stops the reader."""
        with contextlib.suppress(ValueError):
            self._inboxes.remove(inbox)
        if not self._inboxes:
            await self._stop()

    async def _stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task, absorb=())

    async def aclose(self) -> None:
        """Stop the reader and end every subscription. Idempotent."""
        self._closed = True
        inboxes, self._inboxes = self._inboxes, []
        await self._stop()
        closed = CamError("the device session is closed", scheme=SCHEME,
                          url=self._client.errors.url)
        for inbox in inboxes:
            inbox.put(closed)

    def _broadcast(self, item: Item) -> None:
        for inbox in self._inboxes:
            inbox.put(item)

    def _dispatch(self, alerts: Iterable[Alert]) -> None:
        inboxes = self._inboxes
        for alert in alerts:
            if alert.heartbeat:
                self.heartbeats += 1
                continue
            self.alerts += 1
            for inbox in inboxes:
                if inbox.accepts(alert):
                    inbox.put(alert)

    async def _run(self) -> None:
        attempt = 0
        down = False
        while self._inboxes:
            try:
                async for _ in self._read():
                    if down:
                        down = False
                        self._broadcast(Connection(True))
                    attempt = 0
                reason = "the device ended the alert stream"
            except AuthenticationError as exc:
                # Never retried: another wrong login could lock the account.
                self._broadcast(exc)
                return
            except CamError as exc:
                reason = redact_text(str(exc))[:300]
            log.info("alert stream of %s: %s; reconnecting", self._client.errors.url, reason)
            if not down:
                down = True
                self._broadcast(Connection(False, reason))
            delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)
            attempt += 1
            await asyncio.sleep(delay)

    async def _read(self) -> AsyncIterator[None]:
        """One connection; yields once it is accepted, then after each chunk received."""
        body = await self._client.open_stream(
            ALERT_PATH, idle_timeout=self.idle_timeout,
            on_idle=lambda: StreamStalledError(
                f"alert stream: no byte for {self.idle_timeout:g} s (missed heartbeats)",
                scheme=SCHEME, url=self._client.errors.url,
            ),
        )
        self.connects += 1
        try:
            yield None  # the device accepted: the stream is up
            boundary = boundary_from_content_type(
                body.response.headers.get("content-type", ""))
            parser = AlertFramer(boundary, max_part=MAX_PART)
            while True:
                chunk = await body.chunk()
                if chunk is None:
                    return
                try:
                    parts = parser.feed(chunk)
                except MultipartError as exc:
                    raise CamError(f"alert stream: {exc}", scheme=SCHEME,
                                   url=self._client.errors.url) from exc
                alerts = []
                for part in parts:
                    try:
                        alert = parse_alert(part)
                    except (x.XmlError, ValueError) as exc:
                        self.malformed += 1
                        log.debug("skipping a malformed alert: %s", exc)
                        continue
                    if alert is not None:
                        alerts.append(alert)
                if alerts:
                    self._dispatch(alerts)
                yield None
        finally:
            await body.aclose()



def alert_hub(session: HikSession, options: HikvisionHubOptions, config: CameraConfig) -> AlertHub:
    """The session's alert stream, made by its first subscriber's options."""
    if session.alerts is None:
        session.alerts = AlertHub(
            session.client,
            idle_timeout=options.heartbeat * options.heartbeats_missed,
            backoff_base=config.backoff_base,
            backoff_cap=config.backoff_cap,
        )
    return session.alerts
