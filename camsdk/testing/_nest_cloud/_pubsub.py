"""The simulated Cloud Pub/Sub subscription: publish, long-poll pull, acknowledge, deletion."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["Subscription"]

_ACK_DEADLINE = 10.0
_MAX_QUEUED = 10_000


class Subscription:
    """One subscription on the project's topic (``projects/<p>/subscriptions/<name>``).

    Messages published while it exists wait for a pull (at most 10 000);
    pulled ones are outstanding until acknowledged and come back after the
    ack deadline if they are not. `delete` makes it vanish, as Pub/Sub does
    after 31 days without use: pulls get 404 and messages meanwhile are
    lost until it is created again. `silence` makes pulls hang without an
    answer (a half-open connection) until `resume`.
    """

    def __init__(self, name: str, topic: str, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.name = name
        self.topic = topic
        self._clock = clock
        self.exists = True
        self._queue: deque[tuple[str, dict[str, Any]]] = deque(maxlen=_MAX_QUEUED)
        self._outstanding: dict[str, tuple[float, str, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()
        #: Pulls answered, messages delivered, acknowledgements, creations after deletion.
        self.pulls = 0
        self.delivered = 0
        self.acked = 0
        self.created = 0
        self.waiting_pulls = 0

    def publish(self, payload: dict[str, Any], when: datetime) -> None:
        """Publish one Device Access message (dropped while the subscription is deleted)."""
        if not self.exists:
            return
        message_id = str(next(self._ids))
        data = base64.b64encode(json.dumps(payload).encode()).decode()
        self._queue.append((message_id, {
            "data": data, "messageId": message_id,
            "publishTime": when.isoformat().replace("+00:00", "Z"), "attributes": {},
        }))
        self._arrived.set()

    def publish_raw(self, data: str) -> None:
        """Publish a message whose ``data`` is ``data`` as it is (hostile tests)."""
        message_id = str(next(self._ids))
        self._queue.append((message_id, {"data": data, "messageId": message_id}))
        self._arrived.set()

    def delete(self) -> None:
        """Gone, as after 31 days unused."""
        self.exists = False
        self._queue.clear()
        self._outstanding.clear()
        self._arrived.set()

    def create(self, topic: str) -> bool:
        """Create it again; ``False`` if it exists."""
        if self.exists:
            return False
        self.exists, self.topic = True, topic
        self.created += 1
        return True

    def silence(self) -> None:
        """Pulls hang from now on (no answer, connection kept)."""
        self._resumed.clear()

    def resume(self) -> None:
        """Pulls answer again."""
        self._resumed.set()

    @property
    def silent(self) -> bool:
        """Whether pulls hang."""
        return not self._resumed.is_set()

    @property
    def backlog(self) -> int:
        """Messages waiting for a pull."""
        return len(self._queue)

    def _redeliver(self) -> None:
        now = self._clock()
        for ack_id, (deadline, message_id, message) in list(self._outstanding.items()):
            if deadline <= now:
                del self._outstanding[ack_id]
                self._queue.appendleft((message_id, message))

    async def pull(self, max_messages: int, wait: float) -> list[dict[str, Any]] | None:
        """Messages, after waiting up to ``wait`` s for one; ``None`` when deleted."""
        if self.silent:
            self.waiting_pulls += 1
            try:
                await self._resumed.wait()
            finally:
                self.waiting_pulls -= 1
            return []  # an answer to a connection that is long gone
        if not self.exists:
            return None
        self._redeliver()
        if not self._queue:
            self._arrived.clear()
            self.waiting_pulls += 1
            try:
                async with asyncio.timeout(wait):
                    await self._arrived.wait()  # a long poll, as Pub/Sub holds a pull
            except TimeoutError:
                pass
            finally:
                self.waiting_pulls -= 1
            if not self.exists:
                return None
        out: list[dict[str, Any]] = []
        while self._queue and len(out) < max_messages:
            message_id, message = self._queue.popleft()
            ack_id = f"sim-ack-{message_id}-{next(self._ids)}"
            self._outstanding[ack_id] = (self._clock() + _ACK_DEADLINE, message_id, message)
            out.append({"ackId": ack_id, "message": message})
        self.pulls += 1
        self.delivered += len(out)
        return out

    def acknowledge(self, ack_ids: list[str]) -> None:
        """Settle delivered messages."""
        for ack_id in ack_ids:
            if self._outstanding.pop(ack_id, None) is not None:
                self.acked += 1
