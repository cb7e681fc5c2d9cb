"""Webhook sink: POST each event as signed JSON to an HTTP endpoint.

Each request carries one JSON body (see `camsdk.sinks._webhook_payload`):
with ``format="camsdk"`` (the default) the `CameraEvent` JSON plus, when
the event has them, its ``snapshot`` (JPEG in base64, with size and time)
and a ``clip`` reference; with ``format="frigate"`` a Frigate-style
``{"type": "new"|"update"|"end", "before": ..., "after": ...}`` object, so
automations written for Frigate's ``frigate/events`` work unchanged.
Headers:

- ``X-Camsdk-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes
  (snapshot included) with the shared secret. Receivers check it with
  `WebhookSink.verify` (constant-time) before trusting anything in the body.
- ``X-Camsdk-Event-Id`` and ``X-Camsdk-Event-Kind``: for routing and as an
  idempotency key (retries can deliver an event twice);
- ``X-Camsdk-Format``: ``camsdk`` or ``frigate``.

Delivery runs in one background task, in order, from a bounded queue
(drop-oldest, counted): a slow or dead endpoint never slows the camera.
Network errors, timeouts, HTTP 408, 429 and 5xx are retried with capped,
jittered exponential backoff (``Retry-After`` is honoured up to the cap);
other statuses are final. Redirects are not followed, so events never go to a
host the caller did not name.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
from collections.abc import AsyncIterable, Mapping
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from pydantic import SecretStr

from .._errors import ConfigurationError
from .._events import backoff_delay, raise_if_cancelling
from .._http import tls_context
from .._log import get_logger, register_secret, scrub
from .._models import CameraEvent
from .._url import redact_url
from ._queue import AckQueue, stop_delivery
from ._webhook_payload import FrigateMapper, camsdk_payload, encode_body

__all__ = ["WebhookSink"]

_log = get_logger(__name__)

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
SIGNATURE_HEADER = "X-Camsdk-Signature"


class WebhookSink:
    """Delivers camera events to ``url`` as HMAC-signed JSON POSTs.

    ``secret`` signs every body (a `SecretStr` is fine; it is never logged),
    ``timeout`` bounds each request, ``retries`` is how many times a failed
    delivery is tried again. ``format`` picks the body: ``"camsdk"`` (event
    JSON) or ``"frigate"`` (Frigate's event payload). ``with_snapshot=False``
    leaves pictures out even when events carry one (subscribe with
    ``cam.events(with_snapshot=True)`` to have them). Use ``async with
    WebhookSink(...) as sink:`` and feed it with `send` (never blocks) or
    `run` (pumps an event iterator).
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | SecretStr,
        timeout: float = 10.0,
        retries: int = 3,
        queue_size: int = 256,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        headers: Mapping[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
        client: httpx.AsyncClient | None = None,
        format: Literal["camsdk", "frigate"] = "camsdk",
        with_snapshot: bool = True,
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError("webhook URL must be http(s)://host/...", url=redact_url(url))
        if retries < 0 or timeout <= 0:
            raise ConfigurationError("webhook needs retries >= 0 and timeout > 0")
        if format not in ("camsdk", "frigate"):
            raise ConfigurationError(f"webhook format {format!r}: use 'camsdk' or 'frigate'")
        self._url = url
        self.redacted_url = redact_url(url)
        key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not key:
            raise ConfigurationError("webhook secret must not be empty")
        register_secret(key)
        self._key = key.encode()
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._headers = dict(headers or {})
        self._verify = verify
        self._client = client
        self._owns_client = client is None
        self.format = format
        self.with_snapshot = with_snapshot
        self._frigate = FrigateMapper() if format == "frigate" else None
        self.queue: AckQueue[CameraEvent] = AckQueue(queue_size)
        self._task: asyncio.Task[None] | None = None
        #: Events the endpoint accepted (2xx).
        self.delivered = 0
        #: Events given up on (final status or retries exhausted).
        self.failed = 0

    @property
    def dropped(self) -> int:
        """Events discarded because the queue was full."""
        return self.queue.dropped

    # -- signing ---------------------------------------------------------------

    @staticmethod
    def sign(secret: str | bytes, body: bytes) -> str:
        """The ``X-Camsdk-Signature`` value for ``body``: ``sha256=<hex hmac>``."""
        key = secret.encode() if isinstance(secret, str) else secret
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    @staticmethod
    def verify(secret: str | bytes, body: bytes, signature: str) -> bool:
        """Check a received signature in constant time (for webhook receivers)."""
        return hmac.compare_digest(WebhookSink.sign(secret, body), signature)

    def body(self, event: CameraEvent) -> bytes:
        """The exact bytes `deliver` sends (and signs) for ``event``.

        With ``format="frigate"`` this advances the activity's ``new`` /
        ``update`` / ``end`` sequence: call it once per event, in order.
        """
        payload: dict[str, Any]
        if self._frigate is not None:
            payload = self._frigate.payload(event, with_snapshot=self.with_snapshot)
        else:
            payload = camsdk_payload(event, with_snapshot=self.with_snapshot)
        return encode_body(payload)

    # -- feeding ------------------------------------------------------------------

    def send(self, event: CameraEvent) -> None:
        """Queue ``event`` for delivery; never waits (drops the oldest when full)."""
        self.queue.put(event)

    async def run(self, events: AsyncIterable[CameraEvent]) -> None:
        """Queue every event of ``events`` (e.g. ``cam.events()``) until it ends."""
        async for event in events:
            self.send(event)

    async def flush(self) -> None:
        """Wait until every queued event was delivered or given up on."""
        await self.queue.wait_done()

    # -- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                verify=(
                    tls_context(self._verify) if isinstance(self._verify, bool) else self._verify
                ),
            )
        self._task = asyncio.get_running_loop().create_task(self._worker(), name="camsdk-webhook")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose(drain=exc_type is None)

    async def aclose(self, *, drain: bool = True, drain_timeout: float | None = None) -> None:
        """Stop delivering. With ``drain``, first wait (bounded) for the queue to empty."""
        task, self._task = self._task, None
        limit = drain_timeout if drain_timeout is not None else self.timeout
        await stop_delivery(task, self.flush, drain=drain, timeout=limit)
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- delivery ----------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            msg = await self.queue.get()
            try:
                ok = await self.deliver(msg.item)
            except Exception as exc:  # a bug must not stop the deliveries after it
                raise_if_cancelling(exc)
                _log.warning(
                    "webhook %s: %s: %s", self.redacted_url, type(exc).__name__, scrub(str(exc))
                )
                ok = False
            finally:
                self.queue.ack(msg)
            if ok:
                self.delivered += 1
            else:
                self.failed += 1

    async def deliver(self, event: CameraEvent) -> bool:
        """POST one event now, with retries; return whether the endpoint accepted it."""
        if self._client is None:
            raise RuntimeError("use 'async with WebhookSink(...)' before delivering")
        body = self.body(event)
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "User-Agent": "camsdk-webhook",
            SIGNATURE_HEADER: self.sign(self._key, body),
            "X-Camsdk-Event-Id": event.event_id,
            "X-Camsdk-Event-Kind": event.kind.value,
            "X-Camsdk-Format": self.format,
        }
        for attempt in range(self.retries + 1):
            retry_after: float | None = None
            try:
                response = await self._client.post(
                    self._url, content=body, headers=headers, timeout=self.timeout
                )
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {scrub(str(exc))}"
            else:
                if response.is_success:
                    return True
                problem = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUSES:
                    _log.warning(
                        "webhook %s refused event %s: %s",
                        self.redacted_url,
                        event.event_id,
                        problem,
                    )
                    return False
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt == self.retries:
                _log.warning(
                    "webhook %s: giving up on event %s after %d attempts (%s)",
                    self.redacted_url,
                    event.event_id,
                    attempt + 1,
                    problem,
                )
                return False
            delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)
            if retry_after is not None:
                delay = min(max(delay, retry_after), self.backoff_cap)
            _log.info("webhook %s: %s; retry in %.2fs", self.redacted_url, problem, delay)
            await asyncio.sleep(delay)
        return False  # pragma: no cover - the loop always returns

    def __repr__(self) -> str:
        return f"<WebhookSink {self.redacted_url} format={self.format} queued={len(self.queue)}>"


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the jittered backoff is good enough
