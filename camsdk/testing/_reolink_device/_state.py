"""The simulated Reolink device's state: its account, its sessions and its channels."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["AI_TYPES", "Account", "SimChannel"]

#: AI types a modern Reolink camera reports in GetAiState (``visitor`` on doorbells).
AI_TYPES = ("people", "vehicle", "dog_cat", "face", "package")


@dataclass(slots=True)
class SimChannel:
    """One channel: a camera of its own, or one behind the simulated NVR."""

    channel: int
    name: str
    model: str = "RLC-810A"
    uid: str = ""
    online: bool = True
    codec: str = "h264"
    audio: bool = True
    ptz: bool = False
    battery: bool = False
    sleeping: bool = False
    doorbell: bool = False
    #: AI types supported (empty: the camera has no GetAiState).
    ai_types: tuple[str, ...] = ("people", "vehicle", "dog_cat")
    #: GetEnc answers an error for this channel (the device refuses its stream).
    refuse_stream: bool = False
    states: dict[str, bool] = field(default_factory=dict)
    presets: dict[int, str] = field(default_factory=dict)
    #: The last PtzCtrl op and speed.
    ptz_op: str = "Stop"
    ptz_speed: int = 0
    #: Times a waking command or stream woke this (battery) channel.
    wakes: int = 0

    def wake(self) -> None:
        """A waking command arrived: a sleeping battery camera wakes (and is counted)."""
        if self.battery and self.sleeping:
            self.sleeping = False
            self.wakes += 1


class Account:
    """The device's one user: logins, tokens with leases, the session cap, lockouts."""

    def __init__(
        self,
        *,
        username: str,
        password: str,
        lease_time: int,
        max_sessions: int,
        lockout_after: int | None,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username = username
        self._password = password
        self.lease_time = lease_time
        self.max_sessions = max_sessions
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self.tokens: dict[str, float] = {}  # token -> expiry (clock)
        self._failures = 0
        self._locked_until = 0.0
        self.failed_logins = 0
        self.logins = 0
        self.logouts = 0
        self.commands: Counter[str] = Counter()

    @property
    def sessions(self) -> int:
        """Tokens alive now."""
        self._expire()
        return len(self.tokens)

    @property
    def locked(self) -> bool:
        """Whether wrong passwords locked the account."""
        return self._clock() < self._locked_until

    def _expire(self) -> None:
        now = self._clock()
        for token in [t for t, ends in self.tokens.items() if ends <= now]:
            del self.tokens[token]

    def login(self, username: str, password: str) -> tuple[str | None, int, str]:
        """``(token, 0, "")`` or ``(None, rspCode, detail)``."""
        if self.locked:
            return None, -7, "Login has been locked"
        right = secrets.compare_digest(username.encode(), self.username.encode()) and (
            secrets.compare_digest(password.encode(), self._password.encode()))
        if not right:
            self.failed_logins += 1
            self._failures += 1
            if self.lockout_after is not None and self._failures >= self.lockout_after:
                self._failures = 0
                self._locked_until = self._clock() + self.lockout_seconds
                return None, -7, "Login has been locked"
            return None, -7, "login failed"
        self._failures = 0
        self._expire()
        if len(self.tokens) >= self.max_sessions:
            return None, -5, "max session"
        token = secrets.token_hex(8)
        self.tokens[token] = self._clock() + self.lease_time
        self.logins += 1
        return token, 0, ""

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` is a live session."""
        self._expire()
        return token is not None and token in self.tokens

    def logout(self, token: str | None) -> None:
        """End a session."""
        if token is not None and self.tokens.pop(token, None) is not None:
            self.logouts += 1

    def forget_tokens(self) -> None:
        """Drop every session (a reboot): clients get ``please login first``."""
        self.tokens.clear()
