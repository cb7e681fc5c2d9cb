"""The event pipeline stops on a refused login: one CONNECTION event, the error, no retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest

from camsdk._events import EventPipeline
from camsdk.driver import AuthenticationError, CameraEvent, EventKind, TwoFactorRequiredError

pytestmark = pytest.mark.anyio


class RefusingSource:
    """A driver event source whose device refuses the credentials after ``events`` events."""

    def __init__(self, events: int = 0, error: AuthenticationError | None = None) -> None:
        self.events = events
        self.error = error or AuthenticationError("device refused the credentials (HTTP 401)")
        self.starts = 0

    def __call__(self) -> AsyncIterator[CameraEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[CameraEvent]:
        self.starts += 1
        for _ in range(self.events):
            yield CameraEvent(kind=EventKind.MOTION, active=True)
        await asyncio.sleep(0)
        raise self.error


async def test_a_refused_login_is_reported_then_ends_the_subscription_with_the_error() -> None:
    source = RefusingSource(events=1)
    async with EventPipeline(camera_id="c", source=source, backoff_base=0.01,
                             backoff_cap=0.01) as pipeline:
        sub = pipeline.subscribe()
        with anyio.fail_after(5):
            motion = await anext(sub)
            down = await anext(sub)
            with pytest.raises(AuthenticationError):
                await anext(sub)
    assert motion.kind is EventKind.MOTION
    assert (down.kind, down.active) == (EventKind.CONNECTION, False)
    assert "AuthenticationError" in down.extra["reason"]
    assert down.extra["final"] is True


async def test_a_refused_login_is_never_retried_by_the_pipeline() -> None:
    source = RefusingSource()
    async with EventPipeline(camera_id="c", source=source, backoff_base=0.001,
                             backoff_cap=0.001) as pipeline:
        sub = pipeline.subscribe()
        with anyio.fail_after(5), pytest.raises(AuthenticationError):
            async for _ in sub:
                pass
        # Backoff is a millisecond: a retry loop would have restarted the source by now.
        await anyio.wait_all_tasks_blocked()
        assert not pipeline.source_running
    assert source.starts == 1


async def test_every_subscriber_ends_with_the_refusal_whatever_its_filter() -> None:
    source = RefusingSource()
    async with EventPipeline(camera_id="c", source=source) as pipeline:
        everything = pipeline.subscribe()
        motion_only = pipeline.subscribe(kinds={EventKind.MOTION})
        with anyio.fail_after(5):
            with pytest.raises(AuthenticationError):
                await anext(motion_only)
            assert (await anext(everything)).kind is EventKind.CONNECTION
            with pytest.raises(AuthenticationError):
                await anext(everything)
        assert pipeline.subscribers == 0


async def test_a_two_factor_challenge_stops_the_source_like_a_wrong_password() -> None:
    source = RefusingSource(error=TwoFactorRequiredError("the account asks for a code"))
    async with EventPipeline(camera_id="c", source=source) as pipeline:
        with anyio.fail_after(5), pytest.raises(TwoFactorRequiredError):
            async for _ in pipeline.subscribe():
                pass
    assert source.starts == 1


async def test_a_new_subscription_after_a_refusal_asks_the_device_once_more() -> None:
    source = RefusingSource()
    async with EventPipeline(camera_id="c", source=source) as pipeline:
        for _ in range(2):
            with anyio.fail_after(5), pytest.raises(AuthenticationError):
                async for _ in pipeline.subscribe():
                    pass
    assert source.starts == 2


async def test_a_source_refused_when_opened_is_reported_the_same_way() -> None:
    calls = 0

    def refuse_at_once() -> AsyncIterator[CameraEvent]:
        nonlocal calls
        calls += 1
        raise AuthenticationError("no session: the console refused the login")

    async with EventPipeline(camera_id="c", source=refuse_at_once) as pipeline:
        sub = pipeline.subscribe()
        with anyio.fail_after(5):
            down = await anext(sub)
            with pytest.raises(AuthenticationError):
                await anext(sub)
    assert down.kind is EventKind.CONNECTION and down.extra["final"] is True
    assert calls == 1


async def test_a_camera_event_stream_ends_with_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    import camsdk
    from camsdk.drivers.virtual import VirtualDriver

    async def refused(self: VirtualDriver) -> AsyncIterator[CameraEvent]:
        raise AuthenticationError("device refused the credentials")
        yield  # pragma: no cover - makes this an async generator

    monkeypatch.setattr(VirtualDriver, "events", refused)
    async with camsdk.open("virtual://door?events=motion:60s") as cam:
        with anyio.fail_after(10):
            async with cam.events() as events:
                seen = []
                with pytest.raises(AuthenticationError):
                    async for event in events:
                        seen.append(event)
    assert [(e.kind, e.active) for e in seen if e.kind is EventKind.CONNECTION] == [
        (EventKind.CONNECTION, False)]
