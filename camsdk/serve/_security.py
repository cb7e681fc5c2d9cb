"""Owner login and the gateway's guards: password hashes, sessions, CSRF, rate limits.

* Passwords are stored as scrypt hashes (``scrypt$n$r$p$salt$hash``, stdlib
  `hashlib.scrypt`, no new dependency) and compared in constant time.
* An owner session is a random token in an HttpOnly, SameSite=Strict cookie;
  each session has its own CSRF token that every state-changing owner call
  must echo in ``X-CSRF-Token`` (a cross-site form cannot read it).
* `SlidingWindow` counts events per key (a client address, a requester) in a
  bounded table; `LoginGuard` locks an address out after repeated failures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LoginGuard",
    "OwnerSession",
    "OwnerSessions",
    "SlidingWindow",
    "hash_password",
    "verify_password",
]

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_MAX_PASSWORD = 1024
#: Keys remembered by rate limits; the oldest are forgotten beyond this (bounded memory).
_MAX_KEYS = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = _SCRYPT_N, r: int = _SCRYPT_R, p: int = _SCRYPT_P
                  ) -> str:
    """A scrypt hash of ``password`` to put in the site file (``[owner] password_hash``)."""
    if not password or len(password) > _MAX_PASSWORD:
        raise ValueError("the password must be 1..1024 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (a `hash_password` result). Constant time."""
    try:
        scheme, n_text, r_text, p_text, salt_text, digest_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = _unb64(salt_text), _unb64(digest_text)
    except (ValueError, TypeError):
        return False
    # Parameters come from the owner's own file; the bounds keep a typo from eating memory.
    if scheme != "scrypt" or not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
        return False
    if len(password) > _MAX_PASSWORD:
        return False
    try:
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                                dklen=len(expected), maxmem=256 * 1024 * 1024)
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key; bounded memory."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > _MAX_KEYS:
                self._events.popitem(last=False)
        self._events.move_to_end(key)
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; ``False`` (not counted) when over the limit."""
        now = self._clock()
        events = self._recent(key, now)
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may act again (0 when it may now)."""
        now = self._clock()
        events = self._recent(key, now)
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - now)


class LoginGuard:
    """Locks a client address out after ``attempts`` failed logins within ``lockout`` seconds.

    While locked out, even the right password is refused: a guesser learns
    nothing from the answer. A success clears the address's failures.
    """

    def __init__(self, attempts: int, lockout: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._failures = SlidingWindow(attempts, lockout, clock=clock)

    def locked(self, address: str) -> float:
        """Seconds the address stays locked out (0: it may try)."""
        return self._failures.retry_after(address)

    def failed(self, address: str) -> None:
        """Count a failed login of ``address``."""
        self._failures.allow(address)

    def succeeded(self, address: str) -> None:
        """Forget ``address``'s failures."""
        self._failures._events.pop(address, None)


@dataclass(slots=True)
class OwnerSession:
    """A logged-in owner: the CSRF token their page must echo, and the expiry."""

    csrf: str
    expires: float


class OwnerSessions:
    """Owner sessions by cookie token (random, 256 bits); expired ones are dropped."""

    def __init__(self, minutes: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lifetime = minutes * 60.0
        self._clock = clock
        self._sessions: dict[str, OwnerSession] = {}

    def open(self) -> tuple[str, OwnerSession]:
        """A new session: its cookie token and its state."""
        self._purge()
        token = secrets.token_urlsafe(32)
        session = OwnerSession(secrets.token_urlsafe(32), self._clock() + self._lifetime)
        # Stored by hash: a memory dump of the table does not hand out live cookies.
        self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> OwnerSession | None:
        """The live session of a cookie token, or ``None``."""
        if not token or len(token) > 128:
            return None
        session = self._sessions.get(_digest(token))
        if session is None or session.expires <= self._clock():
            return None
        return session

    def close(self, token: str | None) -> None:
        """End the session of ``token`` (logout)."""
        if token:
            self._sessions.pop(_digest(token), None)

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_ok(session: OwnerSession, presented: str | None) -> bool:
    """Whether the request echoed its session's CSRF token."""
    return bool(presented) and hmac.compare_digest(
        session.csrf.encode("ascii"), (presented or "").encode("utf-8", "replace")
    )
