"""`WakeBudget`: how often a battery camera may be woken, and for how long.

Battery cameras (Argus, Doorbell Battery ...) behind a Home Hub or NVR sleep
between events; every snapshot or stream wakes them and costs battery. A
budget per device caps both the wakes in a rolling hour and the seconds
awake in that hour. The driver cannot see when the device falls asleep
again, so each wake is charged ``awake_per_wake`` seconds (Reolink cameras
stay up for about that long after the last request); a stream is charged
the same at open. Every wake is attributed to the caller in the audit log
by the driver (``device.wake``), whether the budget allowed it or not.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["WakeBudget", "WakeVerdict"]

_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class WakeVerdict:
    """Whether a wake may happen now, and what is left of the budget."""

    allowed: bool
    wakes_left: int
    awake_seconds_left: float
    reason: str = ""


class WakeBudget:
    """Wakes and awake seconds allowed per rolling hour (see the module docstring)."""

    def __init__(
        self,
        *,
        wakes_per_hour: int,
        awake_seconds_per_hour: float,
        awake_per_wake: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wakes_per_hour = wakes_per_hour
        self.awake_seconds_per_hour = awake_seconds_per_hour
        self.awake_per_wake = awake_per_wake
        self._clock = clock
        self._wakes: deque[float] = deque()
        #: Wakes refused because the budget was spent.
        self.refused = 0

    def _prune(self, now: float) -> None:
        while self._wakes and now - self._wakes[0] >= _HOUR:
            self._wakes.popleft()

    def check(self) -> WakeVerdict:
        """What a wake now would be told, without spending anything."""
        now = self._clock()
        self._prune(now)
        used = len(self._wakes)
        wakes_left = max(0, self.wakes_per_hour - used)
        awake_left = max(0.0, self.awake_seconds_per_hour - used * self.awake_per_wake)
        if wakes_left <= 0:
            return WakeVerdict(False, 0, awake_left,
                               f"wake budget spent ({self.wakes_per_hour} wakes per hour)")
        if awake_left < self.awake_per_wake:
            return WakeVerdict(
                False, wakes_left, awake_left,
                f"awake budget spent ({self.awake_seconds_per_hour:g} s awake per hour)",
            )
        return WakeVerdict(True, wakes_left, awake_left)

    def spend(self) -> WakeVerdict:
        """Take one wake if the budget allows it; the verdict says whether it did."""
        verdict = self.check()
        if not verdict.allowed:
            self.refused += 1
            return verdict
        self._wakes.append(self._clock())
        return WakeVerdict(True, verdict.wakes_left - 1,
                           verdict.awake_seconds_left - self.awake_per_wake)

    def summary(self) -> dict[str, float]:
        """The budget and what is left of it, for the ``wake_budget`` extension."""
        verdict = self.check()
        return {
            "wakes_per_hour": float(self.wakes_per_hour),
            "awake_seconds_per_hour": self.awake_seconds_per_hour,
            "wakes_left": float(verdict.wakes_left),
            "awake_seconds_left": verdict.awake_seconds_left,
            "refused": float(self.refused),
        }
