"""Cloud requests are egress too: which ones are audited, and how (``docs/cloud.md``).

The rule every cloud driver follows:

1. **Requests made for a facade action are covered by its decision.** A
   stream's generate, extend and stop calls, the event image fetched for a
   snapshot, the feed a subscription reads: the facade decided and recorded
   ``stream.open``, ``snapshot`` or ``events.subscribe`` (and will record the
   egress end) before the driver ran. No second record.
2. **Requests the account makes for itself get a record each**, written
   *before* the request: listing or reading devices, refreshing tokens,
   creating or re-creating an event subscription.
   ``{"event": "cloud.request", "scheme", "account", "method", "host",
   "path", "why"}``; the path never carries its query (tokens ride there).
   A record that cannot be written stops the request: it fails closed, like
   every egress.
3. **Periodic requests are summarised**: the feed's pulls and
   acknowledgements, lease extensions. One ``cloud.polls`` record per kind
   every ``summary_every`` seconds (15 minutes by default) and when the
   account closes, with counts; not one record per request, which would
   bury the records that matter (an hour of pulls is hundreds of lines
   saying nothing new).

Records go through the audit hook of whoever the request serves: a driver
marks its calls with `CloudAudit.acting_for` (a hub listing cameras writes
to the hub's log, a camera connecting to the camera's); background work
(a shared event feed) writes through the first holder still attached.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._log import get_logger

__all__ = ["AuditHook", "CloudAudit", "request_record"]

log = get_logger("camsdk.cloud.audit")

#: Writes one audit record (a camera's or a hub's ``audit_record``); raises if it cannot.
AuditHook = Callable[[dict[str, Any]], None]

_ACTING: contextvars.ContextVar[AuditHook | None] = contextvars.ContextVar(
    "camsdk_cloud_audit", default=None
)
_MAX_PATH = 200


def request_record(method: str, url: str, why: str) -> dict[str, Any]:
    """The fields of a ``cloud.request`` record: method, host, path without query, why."""
    parts = urlsplit(url)
    return {
        "event": "cloud.request",
        "method": method.upper(),
        "host": (parts.hostname or "").lower(),
        "path": parts.path[:_MAX_PATH],
        "why": why,
    }


@dataclass(slots=True)
class _Tally:
    method: str
    host: str
    path: str
    since: float
    count: int = 0
    items: int = 0


class CloudAudit:
    """The audit records of one cloud account's own requests (see the module docstring)."""

    def __init__(
        self,
        scheme: str,
        account: str,
        *,
        summary_every: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scheme = scheme
        self.account = account
        self.summary_every = summary_every
        self._clock = clock
        self._holders: dict[Hashable, AuditHook] = {}
        self._tallies: dict[tuple[str, str, str], _Tally] = {}
        #: ``cloud.request`` records written, and ``cloud.polls`` summaries.
        self.requests = 0
        self.summaries = 0

    def attach(self, key: Hashable, hook: AuditHook | None) -> None:
        """A hub or camera using the account: background records may go to ``hook``."""
        if hook is not None:
            self._holders[key] = hook

    def detach(self, key: Hashable) -> None:
        """The holder ``key`` closed (the last one takes the pending summaries with it)."""
        if key in self._holders and len(self._holders) == 1:
            self.flush()
        self._holders.pop(key, None)

    @contextlib.contextmanager
    def acting_for(self, hook: AuditHook | None) -> Iterator[None]:
        """Requests made in the block serve ``hook``'s owner and are recorded there."""
        token = _ACTING.set(hook)
        try:
            yield
        finally:
            _ACTING.reset(token)

    def _hook(self) -> AuditHook | None:
        hook = _ACTING.get()
        if hook is not None:
            return hook
        return next(iter(self._holders.values()), None)

    def request(self, method: str, url: str, why: str) -> None:
        """Record an account-level request before it is sent; raise if the record fails."""
        hook = self._hook()
        if hook is None:
            return  # a bare driver outside any facade: nothing to write to
        hook({**request_record(method, url, why), "scheme": self.scheme,
              "account": self.account})
        self.requests += 1

    def periodic(self, what: str, method: str, url: str, *, items: int = 0) -> None:
        """Count one periodic request (summarised every ``summary_every`` seconds)."""
        fields = request_record(method, url, what)
        key = (what, fields["host"], fields["path"])
        now = self._clock()
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally(fields["method"], fields["host"],
                                                fields["path"], now)
        tally.count += 1
        tally.items += items
        if now - tally.since >= self.summary_every:
            self._write_summary(what, tally, now)
            del self._tallies[key]

    def flush(self) -> None:
        """Write every pending summary (the account closes, a feed stops). Never raises."""
        now = self._clock()
        tallies, self._tallies = self._tallies, {}
        for (what, _host, _path), tally in tallies.items():
            self._write_summary(what, tally, now)

    def _write_summary(self, what: str, tally: _Tally, now: float) -> None:
        hook = self._hook()
        if hook is None or tally.count == 0:
            return
        try:
            hook({"event": "cloud.polls", "scheme": self.scheme, "account": self.account,
                  "what": what, "method": tally.method, "host": tally.host,
                  "path": tally.path, "count": tally.count, "items": tally.items,
                  "seconds": round(now - tally.since, 1)})
            self.summaries += 1
        except Exception:  # the requests were made: a summary that fails is logged
            log.exception("%s account %s: poll summary not written", self.scheme, self.account)
