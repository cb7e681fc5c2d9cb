"""What crosses between a proxy and an actor: replies, frames, and how errors travel.

Actor methods never raise camsdk's own errors through Ray (Ray would wrap
them in a `RayTaskError` with a remote traceback); they return a `Reply`
instead, and the proxy raises the typed error itself, unchanged: the
caller sees the same `AccessDeniedError` it would see locally. A handle the
actor does not know (it restarted) is its own status, so the proxy can
reopen instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Generic, Literal, TypeVar

import numpy as np

from .._errors import CamError

__all__ = ["FleetFrame", "Reply", "unwrap"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """An actor's answer: a value, a typed camsdk error, or "that handle is gone"."""

    status: Literal["ok", "error", "lost"]
    value: T | None = None
    error: CamError | None = None


def unwrap(reply: Reply[T]) -> T:
    """The value of ``reply``; raise its error. ``lost`` is the caller's to handle first."""
    if reply.status == "error" and reply.error is not None:
        raise reply.error
    return reply.value  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class FleetFrame:
    """A decoded picture delivered through the fleet.

    ``array`` holds the pixels (height x width x channels for packed
    formats). Delivered on the camera's node through Ray's object store, it
    is a read-only view of shared memory (zero-copy): ``.copy()`` it before
    writing.
    """

    width: int
    height: int
    format: str
    pts: int | None
    time_base: Fraction
    keyframe: bool
    received_at: float
    array: np.ndarray[Any, Any]

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or ``None`` when unknown."""
        return None if self.pts is None else float(self.pts * self.time_base)

    def to_ndarray(self) -> np.ndarray[Any, Any]:
        """The pixels (the same array as ``array``), as `camsdk.VideoFrame.to_ndarray` gives."""
        return self.array
