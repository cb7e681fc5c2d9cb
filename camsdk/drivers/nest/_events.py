"""The account's event feed: Cloud Pub/Sub over its REST API, shared by its cameras.

Google publishes a project's device events to a Pub/Sub topic
(``projects/sdm-prod/topics/enterprise-<project id>``); the user's own
subscription on it is read here with the REST API on the account's HTTP
client (no gRPC, no Google library):

- ``POST .../subscriptions/<name>:pull`` waits for messages (an empty
  answer when none came), then ``:acknowledge`` the ones handed on;
- health is data received (`camsdk.cloud.FeedWatchdog`): every answer,
  empty or not, is a sign of life; no answer for ``feed_window`` seconds
  (a half-open connection, a stuck proxy) restarts the feed, with capped
  backoff and full jitter. Each change is a CONNECTION event for every
  listening camera. (Device Access has no polling API to fall back on.)
- Pub/Sub deletes a subscription unused for 31 days: a pull answered 404
  re-creates it on the topic (an account-level request, audited) and goes
  on;
- an `AuthenticationError` (a dead grant, a missing ``pubsub`` scope)
  ends every subscription at once and is remembered: no retry, no request.

One feed per account; it runs while at least one camera listens. Pulls
and acknowledgements are periodic requests: the audit log gets a summary
of them (`camsdk.cloud.CloudAudit.periodic`), not a line each.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from camsdk.cloud import FeedState, FeedWatchdog, connection_event
from camsdk.driver import (
    AuthenticationError,
    CameraEvent,
    DeviceError,
    EventFanout,
    EventQueue,
    get_logger,
)

from ._messages import DeviceMedia, EventMapper

if TYPE_CHECKING:  # pragma: no cover
    from ._account import NestAccount

__all__ = ["NestFeed", "default_topic"]

log = get_logger("camsdk.drivers.nest.events")

_QUEUE = 1024
_MAX_PULL = 100
_MAX_ANSWER = 8 * 1024 * 1024
_MAX_MEDIA = 1024
# An empty answer sooner than this is followed by a pause: never a hot pull loop.
_MIN_PULL_SECONDS = 2.0


def default_topic(project: str) -> str:
    """The Device Access topic of ``project``."""
    return f"projects/sdm-prod/topics/enterprise-{project}"


class _Subscriber(EventQueue[CameraEvent]):
    """One camera's events (a slow camera loses its oldest, never stalls the others)."""

    def __init__(self, device: str, camera_id: str) -> None:
        super().__init__(_QUEUE)
        self.device = device
        self.camera_id = camera_id


class NestFeed:
    """The Pub/Sub subscription of one account, fanned out (see the module docstring)."""

    def __init__(self, account: NestAccount, *, subscription: str, topic: str,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.account = account
        self.subscription = subscription
        self.topic = topic
        self._sleep = sleep
        self.mapper = EventMapper()
        self._fanout: EventFanout[_Subscriber] = EventFanout(
            self._run, name=f"camsdk-nest-events-{account.project}",
            on_stop=lambda: self.account.audit.flush())
        self.watchdog: FeedWatchdog | None = None
        self.refused: AuthenticationError | None = None
        #: Pulls answered, messages handed on, acknowledgements, subscriptions re-created.
        self.pulls = 0
        self.delivered = 0
        self.acks = 0
        self.recreated = 0
        self.live = asyncio.Event()

    def __repr__(self) -> str:
        return f"<NestFeed {self.subscription} subscribers={len(self._fanout.subscribers)}>"

    @property
    def _url(self) -> str:
        return f"{self.account.options.pubsub_url}/{self.subscription}"

    def media(self, device: str) -> DeviceMedia | None:
        """The newest media events pointed to for ``device`` (for its snapshots)."""
        return self.mapper.media.get(device)

    # -- subscribers -------------------------------------------------------------------------

    def _check(self) -> None:
        self.account.raise_if_dead()
        refused = self.refused
        if refused is not None:
            raise type(refused)(refused.message, scheme="nest", url=self.account.shown)

    async def subscribe(self, device: str, camera_id: str) -> AsyncIterator[CameraEvent]:
        """The events of one device until cancelled (or an `AuthenticationError`)."""
        self._check()  # no request at all for an account known refused
        sub = _Subscriber(device, camera_id)
        if (self._fanout.running and self.watchdog is not None
                and self.watchdog.state is FeedState.LIVE):
            # A feed already live says so to the camera that joins it.
            sub.put(connection_event(camera_id, FeedState.LIVE, "data received",
                                     feed="pubsub", vendor="nest"))
        async with self._fanout.join(sub):
            async for event in sub:
                yield event

    async def aclose(self) -> None:
        """Stop reading (the account closes)."""
        await self._fanout.stop()

    def _camera_ids(self) -> dict[str, str]:
        return {sub.device: sub.camera_id for sub in self._fanout.subscribers}

    def _on_state(self, state: FeedState, reason: str) -> None:
        if state is FeedState.LIVE:
            self.live.set()
        else:
            self.live.clear()
        for sub in self._fanout.subscribers:
            sub.put(connection_event(sub.camera_id, state, reason, feed="pubsub",
                                     vendor="nest"))

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        config = self.account.config
        self.watchdog = FeedWatchdog(
            self._read, window=self.account.options.feed_window, name="pubsub",
            on_state=self._on_state, backoff_base=config.backoff_base,
            backoff_cap=config.backoff_cap,
        )
        try:
            await self.watchdog.run()
        except AuthenticationError as exc:
            log.warning("event feed of %s stopped: %s", self.account.shown, exc)
            self.refused = exc
            self._fanout.fail_all(exc)

    async def _read(self, beat: Callable[[], None]) -> None:
        while True:
            started = time.monotonic()
            received = await self._pull()
            beat()
            if received:
                await self._deliver(received)
            elif time.monotonic() - started < _MIN_PULL_SECONDS:
                await self._sleep(_MIN_PULL_SECONDS - (time.monotonic() - started))

    async def _pull(self) -> list[Any]:
        options = self.account.options
        try:
            response = await self.account.call(
                "POST", f"{self._url}:pull", why="pull events", kind="periodic",
                json={"maxMessages": _MAX_PULL}, timeout=options.feed_window + 5.0,
                max_bytes=_MAX_ANSWER, max_wait=options.feed_window)
        except DeviceError as exc:
            if exc.code != "NOT_FOUND":
                raise
            await self._recreate()
            return []
        self.pulls += 1
        body = response.json()
        received = body.get("receivedMessages") if isinstance(body, dict) else None
        return received[:_MAX_PULL * 2] if isinstance(received, list) else []

    async def _recreate(self) -> None:
        log.warning("the Pub/Sub subscription %s is gone (Google deletes one unused for 31 "
                    "days); re-creating it: events in between are lost", self.subscription)
        try:
            await self.account.call(
                "PUT", self._url, why="re-create the event subscription", kind="account",
                json={"topic": self.topic, "ackDeadlineSeconds": 60})
        except DeviceError as exc:
            if exc.code != "ALREADY_EXISTS":
                raise
        self.recreated += 1

    async def _deliver(self, received: list[Any]) -> None:
        ack_ids: list[str] = []
        camera_ids = self._camera_ids()
        for item in received:
            if not isinstance(item, dict):
                continue
            ack = item.get("ackId")
            if isinstance(ack, str) and ack:
                ack_ids.append(ack[:512])
            message = item.get("message")
            data = message.get("data") if isinstance(message, dict) else None
            if not isinstance(data, str):
                continue
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                self.mapper.skipped += 1
                continue
            parsed = self.mapper.parse(raw)
            if parsed is None:
                continue
            for device, event in self.mapper.map(parsed, camera_ids):
                for sub in self._fanout.subscribers:
                    if sub.device == device:
                        sub.put(event)
                        self.delivered += 1
        while len(self.mapper.media) > _MAX_MEDIA:
            self.mapper.media.pop(next(iter(self.mapper.media)))
        if ack_ids:
            await self.account.call("POST", f"{self._url}:acknowledge", why="acknowledge events",
                                    kind="periodic", json={"ackIds": ack_ids})
            self.acks += len(ack_ids)
