"""NATS JetStream sink: publish each event to a durable stream, acknowledged.

Each event becomes one JetStream message on
``<subject_prefix>.<camera id>.<kind>`` (the camera id with every character
other than letters, digits, ``_`` and ``-`` replaced by ``_``, since dots and
wildcards split NATS subjects), with the same JSON body as the webhook sink
(`camsdk.sinks._webhook_payload`): ``format="camsdk"`` (the `CameraEvent`
JSON, ``clip``, and ``snapshot`` when asked) or ``format="frigate"``.
Headers:

- ``Nats-Msg-Id``: the camera id, the event id and the event's state
  (``start``, ``end``, or ``update`` plus its receive time), fixed when the
  event is queued. A publish retried after a lost ack carries the same id,
  so JetStream's duplicate window (``duplicate_window``, 2 minutes by
  default) stores it once;
- ``Camsdk-Event-Id``, ``Camsdk-Event-Kind``, ``Camsdk-Event-State`` and
  ``Camsdk-Format``, for consumers that filter on headers.

Delivery is at-least-once: one background task publishes the events in
order from a bounded queue (drop-oldest, counted) and an event leaves the
queue only when JetStream acknowledged it. While the server is down the
task reconnects with capped, jittered backoff and events wait in the queue;
`send` never waits, so a camera is never held up by the sink.

The subjects must be captured by a stream: ``stream=`` names one (its
existence is checked), else any stream capturing ``<prefix>.>`` is used.
With ``ensure_stream=True`` a missing stream is created (file storage,
``stream_max_age``, ``duplicate_window``); without it a missing stream is a
`ConfigurationError`. Pictures ride along only with ``with_snapshot=True``
and only when the message stays within the server's ``max_payload``; a
larger one is sent without its picture (counted in ``stats``, logged once).

Needs the ``nats`` extra (``pip install 'camsdk[nats]'``, nats-py).
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from pydantic import SecretStr

from .._errors import (
    AuthenticationError,
    CamError,
    ConfigurationError,
)
from .._events import backoff_delay, raise_if_cancelling
from .._http import tls_context
from .._log import get_logger, register_secret, scrub
from .._models import CameraEvent, Credentials
from ._nats_link import JetStreamLink, MessageRefused, StreamSettings, import_nats, redact_server
from ._queue import AckQueue, stop_delivery
from ._webhook_payload import FrigateMapper, camsdk_payload, encode_body

__all__ = ["JetStreamSink", "JetStreamStats", "subject_token"]

_log = get_logger(__name__)

_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: Room left for the headers when checking a body against ``max_payload``.
_HEADER_ROOM = 1024
#: Open activities remembered to tell a start from an update.
_MAX_OPEN = 4096

NatsCredentials = Credentials | Path | SecretStr


def subject_token(camera_id: str) -> str:
    """``camera_id`` as one NATS subject token (``front.door`` -> ``front_door``)."""
    token = _TOKEN_UNSAFE.sub("_", camera_id)[:128]
    return token or "_"


@dataclass(frozen=True, slots=True)
class JetStreamStats:
    """Counters of a `JetStreamSink`."""

    #: Events JetStream acknowledged (duplicates included).
    published: int
    #: Acknowledged as duplicates: a retry of a message already stored.
    duplicates: int
    #: Events discarded because the queue was full (drop-oldest).
    dropped: int
    #: Events the server refused for good (too large, bad request).
    failed: int
    #: Events waiting or being published.
    queued: int
    #: Connections lost or refused (each one is retried).
    reconnects: int
    #: Events sent without their picture because it exceeded ``max_payload``.
    snapshots_omitted: int
    #: Whether the sink holds a live connection now.
    connected: bool


@dataclass(slots=True)
class _Outgoing:
    """One queued event and what was fixed when it was queued (subject, message id)."""

    event: CameraEvent
    subject: str
    msg_id: str
    state: str
    payload: dict[str, Any] | None = field(default=None)


class JetStreamSink:
    """Publishes camera events to a NATS JetStream stream (see the module docstring).

    ``servers`` is one ``nats://`` / ``tls://`` URL or several.
    ``credentials`` is a `camsdk.Credentials` (user and password), a `Path`
    to a ``.creds`` file (JWT and NKey seed; needs the ``nkeys`` package) or
    a `SecretStr` token; none of them is ever logged. ``tls=True`` verifies
    the server with the system CAs (``tls://`` URLs imply it); an
    `ssl.SSLContext` is used as given. ``timeout`` bounds each publish ack,
    ``connect_timeout`` each connection attempt. Use ``async with
    JetStreamSink(...) as sink:`` and feed it with `send` (never blocks) or
    `run` (pumps an event iterator).
    """

    def __init__(
        self,
        servers: str | Sequence[str],
        *,
        subject_prefix: str = "camsdk",
        stream: str | None = None,
        ensure_stream: bool = False,
        stream_max_age: float = 7 * 24 * 3600.0,
        stream_max_bytes: int | None = None,
        duplicate_window: float = 120.0,
        credentials: NatsCredentials | None = None,
        tls: bool | ssl.SSLContext = False,
        timeout: float = 5.0,
        connect_timeout: float = 5.0,
        queue_size: int = 256,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        format: Literal["camsdk", "frigate"] = "camsdk",
        with_snapshot: bool = False,
        name: str = "camsdk-jetstream",
    ) -> None:
        server_list = [servers] if isinstance(servers, str) else list(servers)
        if not server_list:
            raise ConfigurationError("JetStreamSink needs at least one NATS server URL")
        auth = _auth_options(credentials)
        self.redacted_servers = ",".join(redact_server(s) for s in server_list)
        if not _PREFIX.match(subject_prefix):
            raise ConfigurationError(
                f"subject prefix {subject_prefix!r}: use tokens of letters, digits, '_' and '-' "
                "separated by dots"
            )
        if stream is not None and not _STREAM_NAME.match(stream):
            raise ConfigurationError(f"stream name {stream!r}: letters, digits, '_' and '-' only")
        if timeout <= 0 or connect_timeout <= 0 or duplicate_window <= 0 or stream_max_age <= 0:
            raise ConfigurationError("timeouts, duplicate_window and stream_max_age must be > 0")
        if format not in ("camsdk", "frigate"):
            raise ConfigurationError(f"JetStream format {format!r}: use 'camsdk' or 'frigate'")
        import_nats()  # fail now, with the install hint, not at the first event
        use_tls = tls if isinstance(tls, ssl.SSLContext) else None
        if use_tls is None and (tls or any(s.startswith("tls://") for s in server_list)):
            use_tls = tls_context(True)
        self.subject_prefix = subject_prefix
        self.format = format
        self.with_snapshot = with_snapshot
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._link = JetStreamLink(
            server_list,
            redacted=self.redacted_servers,
            auth=auth,
            tls=use_tls,
            stream=StreamSettings(
                name=stream,
                subjects=(f"{subject_prefix}.>",),
                ensure=ensure_stream,
                max_age=stream_max_age,
                duplicate_window=duplicate_window,
                max_bytes=stream_max_bytes,
            ),
            timeout=timeout,
            connect_timeout=connect_timeout,
            name=name,
        )
        self._frigate = FrigateMapper() if format == "frigate" else None
        self._open: OrderedDict[str, float] = OrderedDict()
        self.queue: AckQueue[_Outgoing] = AckQueue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._warned_snapshot = False
        #: Events JetStream acknowledged.
        self.delivered = 0
        #: Events the server refused for good.
        self.failed = 0
        #: Acknowledgements that said "duplicate" (a retry JetStream had already stored).
        self.duplicates = 0
        #: Events sent without their picture (it exceeded ``max_payload``).
        self.snapshots_omitted = 0
        #: The last delivery problem (None once delivering again).
        self.error: CamError | None = None

    @property
    def dropped(self) -> int:
        """Events discarded because the queue was full."""
        return self.queue.dropped

    @property
    def reconnects(self) -> int:
        """Connections lost or refused (each one is retried)."""
        return self._link.reconnects

    @property
    def stream_name(self) -> str | None:
        """The stream the events go to, once connected."""
        return self._link.stream_name

    @property
    def stats(self) -> JetStreamStats:
        """The sink's counters, now."""
        return JetStreamStats(
            published=self.delivered,
            duplicates=self.duplicates,
            dropped=self.dropped,
            failed=self.failed,
            queued=len(self.queue),
            reconnects=self.reconnects,
            snapshots_omitted=self.snapshots_omitted,
            connected=self._link.connected,
        )

    # -- subjects, ids, bodies ------------------------------------------------------

    def subject(self, event: CameraEvent) -> str:
        """``<prefix>.<camera id as a token>.<kind>``."""
        return f"{self.subject_prefix}.{subject_token(event.camera_id)}.{event.kind.value}"

    def _state(self, event: CameraEvent) -> str:
        key = f"{event.camera_id}\x00{event.event_id}"
        received = event.received_at.timestamp()
        if not event.active:
            self._open.pop(key, None)
            return "end"
        started = self._open.get(key)
        if started is None:
            self._open[key] = received
            while len(self._open) > _MAX_OPEN:
                self._open.popitem(last=False)
            return "start"
        # The very event that started the activity, sent again, is still its start.
        return "start" if started == received else "update"

    def _outgoing(self, event: CameraEvent) -> _Outgoing:
        state = self._state(event)
        received_us = round(event.received_at.timestamp() * 1_000_000)
        ident = event.event_id or f"{event.kind.value}-{received_us}"
        msg_id = f"{_header_safe(event.camera_id)}:{_header_safe(ident)}:{state}"
        if state == "update":
            msg_id += f":{received_us}"
        return _Outgoing(event, self.subject(event), msg_id, state)

    def _payload(self, out: _Outgoing) -> dict[str, Any]:
        if out.payload is None:  # once per event: the Frigate mapper advances on each call
            if self._frigate is not None:
                out.payload = self._frigate.payload(out.event, with_snapshot=self.with_snapshot)
            else:
                out.payload = camsdk_payload(out.event, with_snapshot=self.with_snapshot)
        return out.payload

    def _body(self, out: _Outgoing, max_payload: int) -> bytes:
        payload = self._payload(out)
        body = encode_body(payload)
        if len(body) + _HEADER_ROOM > max_payload and "snapshot" in payload:
            out.payload = payload = {k: v for k, v in payload.items() if k != "snapshot"}
            body = encode_body(payload)
            self.snapshots_omitted += 1
            if not self._warned_snapshot:
                self._warned_snapshot = True
                _log.warning(
                    "JetStream %s: a snapshot exceeded max_payload (%d bytes); events whose "
                    "picture is too large are sent without it (counted in stats)",
                    self.redacted_servers,
                    max_payload,
                )
        return body

    def _headers(self, out: _Outgoing) -> dict[str, str]:
        return {
            "Nats-Msg-Id": out.msg_id,
            "Content-Type": "application/json",
            "Camsdk-Event-Id": _header_safe(out.event.event_id),
            "Camsdk-Event-Kind": out.event.kind.value,
            "Camsdk-Event-State": out.state,
            "Camsdk-Format": self.format,
        }

    # -- feeding ----------------------------------------------------------------------

    def send(self, event: CameraEvent) -> None:
        """Queue ``event`` for publishing; never waits (drops the oldest when full)."""
        self.queue.put(self._outgoing(event))

    async def run(self, events: AsyncIterable[CameraEvent]) -> None:
        """Queue every event of ``events`` (e.g. ``cam.events()``) until it ends."""
        async for event in events:
            self.send(event)

    async def flush(self) -> None:
        """Wait until every queued event was acknowledged, refused, or dropped."""
        await self.queue.wait_done()

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            await self._link.connect()
        except (AuthenticationError, ConfigurationError):
            raise  # will not get better by retrying: tell the caller now
        except CamError as exc:
            # Server down at start: events wait in the queue while the task reconnects.
            self.error = exc
            _log.warning(
                "JetStream %s not reachable yet (%s); events wait in the queue",
                self.redacted_servers,
                scrub(str(exc)),
            )
        self._task = asyncio.get_running_loop().create_task(
            self._worker(), name="camsdk-jetstream"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose(drain=exc_type is None)

    async def aclose(self, *, drain: bool = True, drain_timeout: float | None = None) -> None:
        """Stop publishing. With ``drain``, first wait (bounded) for the queue to empty."""
        task, self._task = self._task, None
        limit = drain_timeout if drain_timeout is not None else self.timeout
        await stop_delivery(task, self.flush, drain=drain, timeout=limit)
        await self._link.close()

    # -- delivery -----------------------------------------------------------------------

    async def deliver(self, event: CameraEvent) -> bool:
        """Publish one event now and wait for its ack; False if the server refused it.

        Connection problems raise typed errors (`CameraConnectionError` and
        its subclasses, `ConfigurationError` when no stream captures it).
        """
        return await self._publish(self._outgoing(event))

    async def _publish(self, out: _Outgoing) -> bool:
        await self._link.connect()
        try:
            body = self._body(out, self._link.max_payload)
            duplicate = await self._link.publish(out.subject, body, self._headers(out))
        except MessageRefused as exc:
            self.failed += 1
            _log.warning(
                "JetStream %s refused event %s: %s",
                self.redacted_servers,
                _header_safe(out.event.event_id),
                scrub(str(exc)),
            )
            return False
        self.delivered += 1
        self.duplicates += duplicate
        return True

    async def _worker(self) -> None:
        attempt = 0
        while True:
            msg = await self.queue.get()
            while True:
                try:
                    await self._publish(msg.item)
                except CamError as exc:
                    attempt = await self._back_off(exc, attempt)
                    continue
                except Exception as exc:  # a bug must not stop the deliveries after it
                    raise_if_cancelling(exc)
                    self.failed += 1
                    _log.warning(
                        "JetStream %s: %s: %s",
                        self.redacted_servers,
                        type(exc).__name__,
                        scrub(str(exc)),
                    )
                break
            if attempt:
                _log.warning("JetStream %s: delivering again", self.redacted_servers)
            attempt = 0
            self.error = None
            self.queue.ack(msg)

    async def _back_off(self, exc: CamError, attempt: int) -> int:
        """Log, count and sleep before retrying the message at the head of the queue."""
        self.error = exc
        delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)
        # Warn once per outage; the retries after it are INFO.
        log = _log.warning if attempt == 0 else _log.info
        log(
            "JetStream %s: %s; %d queued, retrying in %.2fs",
            self.redacted_servers,
            scrub(str(exc)),
            len(self.queue),
            delay,
        )
        await asyncio.sleep(delay)
        return attempt + 1

    def __repr__(self) -> str:
        return (
            f"<JetStreamSink {self.redacted_servers} prefix={self.subject_prefix} "
            f"format={self.format} queued={len(self.queue)}>"
        )


def _header_safe(text: str) -> str:
    """Header values carry no CR/LF (header injection) and stay short."""
    return "".join(c if c.isprintable() else "_" for c in text)[:200]


def _auth_options(credentials: NatsCredentials | None) -> dict[str, Any]:
    """nats-py's connect() keywords for ``credentials``; registers the secrets for scrubbing."""
    if credentials is None:
        return {}
    if isinstance(credentials, Credentials):
        password = credentials.password.get_secret_value()
        register_secret(password)
        return {"user": credentials.username, "password": password}
    if isinstance(credentials, SecretStr):
        token = credentials.get_secret_value()
        if not token:
            raise ConfigurationError("the NATS token must not be empty")
        register_secret(token)
        return {"token": token}
    if isinstance(credentials, os.PathLike):
        path = Path(credentials)
        if not path.is_file():
            raise ConfigurationError(f"NATS credentials file {path} does not exist")
        return {"user_credentials": str(path)}
    raise ConfigurationError(
        "NATS credentials: give camsdk.Credentials(user, password), a Path to a .creds "
        "file, or a SecretStr token (a plain str is ambiguous)"
    )
