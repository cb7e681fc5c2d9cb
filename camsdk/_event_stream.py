"""`EventStream`: one subscriber's view of a camera's events, checked against its grant."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ._access import Action, Decision
from ._errors import AccessDeniedError, CamError
from ._lifecycle import AsyncResource
from ._log import get_logger
from ._models import CameraEvent, Capability, Snapshot

if TYPE_CHECKING:  # pragma: no cover
    from ._camera import Camera
    from ._events import EventSubscription

__all__ = ["EventStream"]

log = get_logger("camsdk.camera")


class EventStream(AsyncResource):
    """An event subscription: ``async for ev in cam.events(...)``; close with ``aclose``.

    Each event is checked against the access decision the subscription was
    opened under, so a revoked or expired grant ends it at the next event.
    """

    def __init__(
        self,
        camera: Camera,
        subscription: EventSubscription,
        decision: Decision,
        *,
        with_snapshot: bool,
        purpose: str,
    ) -> None:
        self._camera = camera
        self._subscription = subscription
        self._decision = decision
        self._with_snapshot = with_snapshot
        self._purpose = purpose
        self._started = time.monotonic()
        self._count = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"<EventStream {self._camera.url} events={self._count}>"

    @property
    def dropped(self) -> int:
        """Events this subscriber lost because it fell behind."""
        return self._subscription.dropped

    def __aiter__(self) -> AsyncIterator[CameraEvent]:
        return self

    async def __anext__(self) -> CameraEvent:
        if self._closed:
            raise StopAsyncIteration
        try:
            event = await self._subscription.__anext__()
        except BaseException:
            await self.aclose()
            raise
        if not self._decision.still_valid():
            await self.aclose()
            raise AccessDeniedError(
                "access to events was revoked or has expired",
                scheme=self._camera.scheme, url=self._camera.url, reason="grant no longer valid",
            )
        self._count += 1
        if self._with_snapshot and event.active and self._camera.supports(Capability.SNAPSHOT):
            snap = await self._event_snapshot(event)
            if snap is not None:
                event = event.model_copy(update={"snapshot": snap})
        return event

    async def _event_snapshot(self, event: CameraEvent) -> Snapshot | None:
        from ._snapshots import snapshot_at

        try:
            snap = await snapshot_at(self._camera, event.received_at, self._purpose)
            if snap is None:
                # Not streaming, so nothing of the moment is buffered: a fresh still.
                snap = await self._camera.snapshot(purpose=self._purpose)
            return snap
        except AccessDeniedError:
            raise
        except CamError as exc:
            log.debug("event snapshot failed: %s", exc)
            return None

    async def aclose(self) -> None:
        """End the subscription. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._subscription.aclose()
        self._camera._end(Action.EVENTS_SUBSCRIBE, self._decision, items=self._count,
                          duration=time.monotonic() - self._started, purpose=self._purpose)

