"""The simulated device behind ``virtual://<name>``, and the registry of live ones.

Every camera opened on one name talks to one `VirtualDevice`: one PTZ head,
one set of injected faults, one event fan-out, one set of counters. The
registry holds devices weakly, so a device lives exactly as long as a driver
or a test handle (`virtual_device`) refers to it; state never leaks from one
test into the next.

A device is driven from the event loop thread; it is not thread-safe.
"""

from __future__ import annotations

import itertools
import re
import threading
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from camsdk.driver import CameraEvent, ConfigurationError, EventKind, PTZStatus

from ._options import Fault
from ._ptz import PTZState

if TYPE_CHECKING:  # pragma: no cover
    from ._stream import VirtualStream

__all__ = [
    "Injection",
    "VirtualDevice",
    "live_device_names",
    "normalise_name",
    "virtual_device",
]

_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9_])?$")


def normalise_name(name: str) -> str:
    """The registry key of a device name: lower case (URL hosts are case-insensitive)."""
    if not isinstance(name, str) or not _NAME_RE.match(name.strip().lower()):
        raise ConfigurationError(
            f"invalid virtual camera name {name!r}: use 1-64 letters, digits, '.', '_' or '-'",
            scheme="virtual",
        )
    return name.strip().lower()


class EventListener(Protocol):
    """What the device fans injected events out to (an ``events()`` iterator)."""

    def deliver(self, event: CameraEvent) -> None:
        """Queue ``event`` for the consumer; never blocks."""
        ...


@dataclass(eq=False, slots=True)
class Injection:
    """A fault added with `VirtualDevice.inject_fault`; ``consumed`` once a drop fired."""

    fault: Fault
    consumed: bool = False


class VirtualDevice:
    """One simulated camera, shared by every driver opened on its name.

    The test handle: obtain it with `virtual_device` and keep a reference for
    as long as the state should live. Counters are plain attributes.
    """

    def __init__(self, name: str) -> None:
        self.name = normalise_name(name)
        #: The shared PTZ head.
        self.ptz = PTZState()
        #: Packets yielded by all of this device's streams.
        self.packets_sent = 0
        #: Calls of ``connect()`` that reached the device (failed ones too).
        self.connects = 0
        #: Streams ever opened (``open_stream`` calls that returned).
        self.streams_opened = 0
        #: ``time.monotonic()`` of each first frame of a scripted motion (``motion=``)
        #: that a stream of this device sent, oldest first (the last 1024).
        self.motion_onsets: deque[float] = deque(maxlen=1024)
        #: Privacy mode ("lens covered"): streams end and nothing is captured while on.
        self.privacy_mode = False
        self._streams: weakref.WeakSet[VirtualStream] = weakref.WeakSet()
        self._listeners: weakref.WeakSet[Any] = weakref.WeakSet()
        self._injections: list[Injection] = []
        #: Bumped on every fault change so streams re-read faults only when needed.
        self.fault_generation = 0
        self._event_ids = itertools.count(1)
        self._open_events: dict[EventKind, CameraEvent] = {}

    def __repr__(self) -> str:
        return f"VirtualDevice({self.name!r}, streams_open={self.streams_open})"

    @property
    def camera_id(self) -> str:
        """The id every camera on this device reports: ``virtual:<name>``."""
        return f"virtual:{self.name}"

    @property
    def streams_open(self) -> int:
        """Packet sources currently open on this device."""
        return len(self._streams)

    @property
    def listeners(self) -> int:
        """``events()`` iterators currently subscribed."""
        return len(self._listeners)

    # -- faults ----------------------------------------------------------------------------

    def inject_fault(self, spec: str | Fault) -> None:
        """Add faults (same specs as the ``fail=`` option, comma-separated allowed).

        They reach open streams at their next packet (``stall_after:N`` and
        ``drop_after:N`` count from then) and every later connect and stream.
        ``drop_after`` fires once per injection; the others last until
        `clear_faults`.
        """
        try:
            faults = (spec,) if isinstance(spec, Fault) else Fault.parse(spec)
        except ValueError as exc:
            raise ConfigurationError(str(exc), scheme="virtual") from exc
        self._injections.extend(Injection(f) for f in faults)
        self.fault_generation += 1

    def clear_faults(self) -> None:
        """Remove every injected fault (faults from the URL stay: they are the camera's)."""
        self._injections.clear()
        self.fault_generation += 1

    def injections(self) -> tuple[Injection, ...]:
        """Injected faults still in force."""
        return tuple(i for i in self._injections if not i.consumed)

    def has_fault(self, kind: str) -> bool:
        """Whether an injected fault of ``kind`` is in force."""
        return any(i.fault.kind == kind for i in self.injections())

    def consume(self, injection: Injection) -> None:
        """Mark a one-shot fault as used."""
        injection.consumed = True
        self._injections = [i for i in self._injections if not i.consumed]
        self.fault_generation += 1

    # -- streams ---------------------------------------------------------------------------

    def stream_opened(self, stream: VirtualStream) -> None:
        """Count ``stream`` as open until `stream_closed` (or until it is collected)."""
        self._streams.add(stream)
        self.streams_opened += 1

    def stream_closed(self, stream: VirtualStream) -> None:
        """Uncount ``stream``."""
        self._streams.discard(stream)

    # -- events ----------------------------------------------------------------------------

    def subscribe(self, listener: EventListener) -> None:
        """Deliver injected events to ``listener`` (held weakly)."""
        self._listeners.add(listener)

    def unsubscribe(self, listener: EventListener) -> None:
        """Stop delivering to ``listener``."""
        self._listeners.discard(listener)

    def next_event_id(self) -> str:
        """A fresh event id, unique on this device."""
        return f"{self.name}-{next(self._event_ids)}"

    def make_event(
        self,
        kind: EventKind,
        *,
        event_id: str,
        active: bool,
        started_at: datetime | None = None,
        score: float | None = None,
        zone: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> CameraEvent:
        """Build an event as this device reports it (vendor, topic, device time)."""
        now = datetime.now(UTC)
        return CameraEvent(
            kind=kind,
            camera_id=self.camera_id,
            event_id=event_id,
            active=active,
            started_at=started_at or now,
            ended_at=None if active else now,
            score=score,
            zone=zone,
            device_time=now,
            vendor="camsdk",
            topic=f"virtual/{kind.value}",
            extra=dict(extra or {}),
            snapshot=None,
        )

    def inject_event(
        self,
        kind: EventKind | str,
        *,
        active: bool = True,
        score: float | None = None,
        zone: str | None = None,
        extra: Mapping[str, Any] | None = None,
        event_id: str | None = None,
    ) -> CameraEvent:
        """Deliver an event to every subscribed ``events()`` iterator and return it.

        An end (``active=False``) without ``event_id`` closes the last started
        event of the same kind, so a start and its end share one id.
        """
        try:
            kind = EventKind(kind)
        except ValueError as exc:
            raise ConfigurationError(f"unknown event kind {kind!r}", scheme="virtual") from exc
        started_at: datetime | None = None
        if active:
            event_id = event_id or self.next_event_id()
        else:
            opened = self._open_events.get(kind)
            if opened is not None and event_id in (None, opened.event_id):
                event_id, started_at = opened.event_id, opened.started_at
            event_id = event_id or self.next_event_id()
        try:
            event = self.make_event(
                kind,
                event_id=event_id,
                active=active,
                started_at=started_at,
                score=score,
                zone=zone,
                extra={"source": "injected", **(extra or {})},
            )
        except ValueError as exc:  # pydantic: a score outside 0..1, say
            raise ConfigurationError(f"invalid event: {exc}", scheme="virtual") from exc
        if active:
            self._open_events[kind] = event
        elif self._open_events.get(kind, event).event_id == event.event_id:
            self._open_events.pop(kind, None)
        for listener in list(self._listeners):
            listener.deliver(event)
        return event

    # -- PTZ -------------------------------------------------------------------------------

    def ptz_status(self) -> PTZStatus:
        """Where the shared PTZ head points now."""
        return self.ptz.status()


_devices: weakref.WeakValueDictionary[str, VirtualDevice] = weakref.WeakValueDictionary()
_devices_lock = threading.Lock()


def virtual_device(name: str) -> VirtualDevice:
    """Return the live device called ``name``, creating it if nobody holds one.

    Keep the returned object for as long as its state (faults, PTZ position,
    counters) should last: devices nobody refers to are dropped.
    """
    key = normalise_name(name)
    with _devices_lock:
        device = _devices.get(key)
        if device is None:
            device = VirtualDevice(key)
            _devices[key] = device
        return device


def live_device_names() -> frozenset[str]:
    """Names of the devices alive now (a leak check for tests)."""
    with _devices_lock:
        return frozenset(_devices.keys())
