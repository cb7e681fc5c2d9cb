"""Helpers for the privacy tests: a hand-driven clock, a typical grant and request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from camsdk._access import AccessRequest, Action, Principal
from camsdk.privacy import Grant

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """Wall and monotonic time that move only when a test says so."""

    wall: datetime = T0
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


def make_grant(**overrides: Any) -> Grant:
    """A grant for "neighbour" to snapshot and watch "porch" for "security" for 24 hours."""
    fields: dict[str, Any] = {
        "grant_id": "g1",
        "principal": "neighbour",
        "cameras": {"porch"},
        "actions": {Action.SNAPSHOT, Action.STREAM_OPEN, Action.FRAMES},
        "purpose": "security",
        "issued_at": T0 - timedelta(hours=1),
        "expires_at": T0 + timedelta(hours=24),
    }
    fields.update(overrides)
    return Grant(**fields)


def make_request(
    principal: str = "neighbour",
    camera: str = "porch",
    action: Action = Action.SNAPSHOT,
    purpose: str = "security",
    at: datetime = T0,
) -> AccessRequest:
    url = f"rtsp://{camera}.local/s"
    return AccessRequest(Principal(principal), camera, url, action, purpose, at)
