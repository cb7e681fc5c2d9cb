"""Shared helpers of the network tests: fast configs, bounded reads, state recording."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

import camsdk
from camsdk import Discontinuity, MediaPacket, StreamState
from camsdk._pipeline._session import StreamSession

#: Short deadlines so fault tests finish quickly; backoff capped at 1 s.
FAST: dict[str, Any] = {
    "open_timeout": 2.0,
    "stall_timeout": 1.0,
    "connect_timeout": 3.0,
    "snapshot_timeout": 5.0,
    "backoff_base": 0.2,
    "backoff_cap": 1.0,
    "idle_close": 0.0,
}


async def take_packets(iterator: Any, count: int, *, timeout: float = 5.0) -> list[MediaPacket]:
    """The next ``count`` packets (markers skipped), within ``timeout`` seconds."""
    packets: list[MediaPacket] = []
    with anyio.fail_after(timeout):
        async for item in iterator:
            if isinstance(item, MediaPacket):
                packets.append(item)
                if len(packets) >= count:
                    break
    return packets


async def until_marker(iterator: Any, *, timeout: float) -> tuple[MediaPacket | None, float]:
    """Read until a `Discontinuity`: the last packet before it and when the marker came."""
    last: MediaPacket | None = None
    with anyio.fail_after(timeout):
        async for item in iterator:
            if isinstance(item, Discontinuity):
                return last, time.monotonic()
            last = item
    raise AssertionError("the stream ended without a discontinuity")


def session_of(cam: camsdk.Camera, profile: str = "main") -> StreamSession:
    """The camera's shared stream session (internal: for observing state in tests)."""
    return cam._sessions[profile]


@dataclass
class StateLog:
    """State changes of a session, with their monotonic times and backoff delays."""

    changes: list[tuple[float, StreamState, str]] = field(default_factory=list)
    backoffs: list[float] = field(default_factory=list)
    _event: anyio.Event = field(default_factory=anyio.Event)

    def attach(self, session: StreamSession) -> None:
        def record(state: StreamState, detail: str) -> None:
            self.changes.append((time.monotonic(), state, detail))
            if state is StreamState.BACKOFF:
                self.backoffs.append(session.backoff_delay)
            self._event.set()
            self._event = anyio.Event()

        session.add_state_listener(record)

    def states(self) -> list[StreamState]:
        return [state for _, state, _ in self.changes]

    async def wait_for(self, state: StreamState, *, timeout: float, since: int = 0) -> float:
        """Wait until ``state`` was entered (from change number ``since``); return when."""
        with anyio.fail_after(timeout):
            while True:
                for at, seen, _ in self.changes[since:]:
                    if seen is state:
                        return at
                await self._event.wait()
