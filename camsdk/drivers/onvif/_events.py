"""ONVIF events: a PullPoint subscription turned into raw `CameraEvent`s.

`pull_events` creates a subscription (``CreatePullPointSubscription``), long-
polls it (``PullMessages`` with the ``pull_timeout`` option; the device
answers as soon as something happens), renews it before its termination
time (``Renew``, or a new subscription where firmware has no Renew), and
unsubscribes when the iterator closes. Termination times are compared in the
device's own clock (its ``CurrentTime`` against its ``TerminationTime``), so a
device clock that is hours off does not expire a subscription early.

Notifications become events by topic (`classify`); a boolean state in the
message data (``IsMotion``, ``State``, ``LogicalState`` ...) with the property
operation gives start and end:

=================  ===================  ==================
operation          state true           state false
=================  ===================  ==================
``Initialized``    start                nothing (idle)
``Changed``        start                end
``Deleted``        end                  end
=================  ===================  ==================

A notification without a state (``LineDetector/Crossed``) is a momentary
event: a start immediately followed by its end. Unknown topics are kept as
`EventKind.OTHER`. ``topic`` is the topic as the device sent it
(``tns1:RuleEngine/CellMotionDetector/Motion``); ``extra["topic_path"]``
is the same without namespace prefixes, which differ between firmware
(``tns1:``, ``ns5:`` ...) and are what classification looks at.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

from camsdk.driver import (
    CameraEvent,
    CamError,
    DeviceError,
    EventKind,
    UnsupportedCapabilityError,
    get_logger,
)
from camsdk.driver import xml as x

from ._ns import NS
from ._soap import SoapSession

__all__ = [
    "Notification",
    "PullPointSubscription",
    "classify",
    "parse_notifications",
    "pull_events",
    "to_events",
]

log = get_logger("camsdk.onvif.events")

_TEV = NS["tev"]
_CREATE = f"{_TEV}/EventPortType/CreatePullPointSubscriptionRequest"
_PULL = f"{_TEV}/PullPointSubscription/PullMessagesRequest"
_RENEW = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest"
_UNSUBSCRIBE = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest"

#: Data items that carry an on/off state, most specific first.
_STATE_ITEMS = (
    "ismotion",
    "istamper",
    "isinside",
    "logicalstate",
    "state",
    "issounddetected",
    "active",
    "alarm",
    "value",
)
#: Source items that name a video channel (used to route NVR events).
_CHANNEL_ITEMS = ("VideoSourceConfigurationToken", "VideoSourceToken", "VideoSource", "Source")

# (words looked for in the lower-cased topic, kind), first match wins.
_TOPIC_RULES: tuple[tuple[tuple[str, ...], EventKind], ...] = (
    (("doorbell", "visitor", "callbutton"), EventKind.DOORBELL),
    (("facedetect", "face/", "/face"), EventKind.FACE_DETECTED),
    (("people", "person", "human", "pedestrian"), EventKind.PERSON),
    (("vehicle", "/car", "licenseplate"), EventKind.VEHICLE),
    (("dogcat", "animal"), EventKind.ANIMAL),
    (("package", "parcel"), EventKind.PACKAGE),
    (("linedetector", "linecrossing", "crossed", "tripwire"), EventKind.LINE_CROSSING),
    (("fielddetector", "intrusion", "objectsinside", "regionentrance"), EventKind.INTRUSION),
    (
        ("tamper", "globalscenechange", "imagetooblurry", "imagetoodark", "imagetoobright"),
        EventKind.TAMPER,
    ),
    (("audio/detect", "sounddetect", "audioanalytics", "/sound"), EventKind.SOUND),
    (("digitalinput", "trigger/digital", "device/io"), EventKind.INPUT),
    (("motion",), EventKind.MOTION),
)
_CLASS_ITEMS = ("ClassTypes", "ObjectType", "ClassType", "Type", "Class")
_CLASS_KINDS = {
    "human": EventKind.PERSON,
    "person": EventKind.PERSON,
    "face": EventKind.FACE_DETECTED,
    "vehicle": EventKind.VEHICLE,
    "car": EventKind.VEHICLE,
    "animal": EventKind.ANIMAL,
}


@dataclass(frozen=True, slots=True)
class Notification:
    """One ``wsnt:NotificationMessage``, read."""

    topic: str
    raw_topic: str
    operation: str = ""
    time: datetime | None = None
    source: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def state(self) -> bool | None:
        """The on/off state in the data, or None for a momentary event."""
        # Firmware spells the same item ``Active`` or ``active``.
        folded = {key.lower(): value for key, value in self.data.items()}
        for name in _STATE_ITEMS:
            if name in folded:
                value = x.parse_bool(folded[name])
                if value is not None:
                    return value
        return None


def _items(node: Element | None) -> dict[str, str]:
    return {
        x.attr(item, "Name"): x.attr(item, "Value")
        for item in x.findall(node, "SimpleItem")
        if x.attr(item, "Name")
    }


def parse_notifications(answer: Element) -> list[Notification]:
    """Every NotificationMessage below ``answer`` (PullMessages answer)."""
    found = []
    for message in x.iter_named(answer, "NotificationMessage"):
        raw = x.text(message, "Topic")
        body = x.find(message, "Message", "Message")
        if body is None:
            body = x.find(message, "Message")
        found.append(
            Notification(
                topic=x.strip_prefixes(raw),
                raw_topic=raw,
                operation=x.attr(body, "PropertyOperation"),
                time=x.parse_datetime(x.attr(body, "UtcTime")),
                source=_items(x.find(body, "Source")),
                data=_items(x.find(body, "Data")),
            )
        )
    return found


def classify(topic: str, data: Mapping[str, str] | None = None) -> EventKind:
    """The `EventKind` of a topic (prefixes stripped), refined by an object class in ``data``."""
    lowered = "/" + topic.lower() + "/"
    kind = EventKind.OTHER
    for words, candidate in _TOPIC_RULES:
        if any(word in lowered for word in words):
            kind = candidate
            break
    if kind in (EventKind.OTHER, EventKind.MOTION) and data:
        for name in _CLASS_ITEMS:
            value = data.get(name, "").strip().lower()
            for word, refined in _CLASS_KINDS.items():
                if word in value:
                    return refined
    return kind


def _score(data: Mapping[str, str]) -> float | None:
    for name in ("Likelihood", "Confidence", "Score"):
        value = x.parse_float(data.get(name, ""))
        if value is not None and value >= 0:
            return min(1.0, value / 100.0 if value > 1.0 else value)
    return None


def to_events(note: Notification, *, camera_id: str = "") -> list[CameraEvent]:
    """The raw events of one notification (see the module docstring's table)."""
    state = note.state
    operation = note.operation.lower()
    phases: tuple[bool, ...]
    if state is None:
        if operation in ("initialized", "deleted"):
            return []
        phases = (True, False)
    elif operation == "deleted":
        phases = (False,)
    elif state:
        phases = (True,)
    elif operation == "initialized":
        return []
    else:
        phases = (False,)
    kind = classify(note.topic, note.data)
    zone = note.source.get("Rule") or note.source.get("RuleName") or None
    extra = {
        "topic_path": note.topic,
        "operation": note.operation,
        "source": dict(note.source),
        "data": dict(note.data),
    }
    return [
        CameraEvent(
            kind=kind,
            camera_id=camera_id,
            active=active,
            zone=zone,
            score=_score(note.data),
            device_time=note.time,
            vendor="onvif",
            topic=note.raw_topic,
            extra=extra,
        )
        for active in phases
    ]


def for_channel(note: Notification, tokens: Collection[str]) -> bool:
    """Whether an NVR notification belongs to the channel with video ``tokens``.

    Notifications that name no video source (digital inputs, device-wide
    state) belong to every channel.
    """
    named = [note.source[key] for key in _CHANNEL_ITEMS if key in note.source]
    return not named or any(value in tokens for value in named)


class PullPointSubscription:
    """One PullPoint subscription: create, pull, renew, unsubscribe."""

    def __init__(
        self,
        session: SoapSession,
        xaddr: str,
        *,
        pull_timeout: float,
        lifetime: float = 60.0,
        message_limit: int = 100,
        request_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._xaddr = xaddr
        self.pull_timeout = pull_timeout
        self.lifetime = lifetime
        self.message_limit = message_limit
        self.request_timeout = request_timeout
        self.address: str | None = None
        self._reported_address = ""
        self._reference = ""
        self._expires = 0.0  # time.monotonic() at which the device drops us
        #: The lifetime the device granted (it may cap what we ask for).
        self.granted = lifetime
        self.renewals = 0

    def _header(self, action: str) -> str:
        to = self._reported_address or self._xaddr
        return (
            f"<wsa:Action>{action}</wsa:Action><wsa:To>{x.escape(to)}</wsa:To>"
            f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>{self._reference}"
        )

    def _track_termination(self, answer: Element, received: float, *, granted: bool) -> None:
        """Update when the device drops us, from its CurrentTime and TerminationTime.

        Both stamps come from the device clock, so its skew cancels out. Stamps
        in whole seconds may each be truncated by up to a second: that second
        is taken off. Only Create and Renew answers (``granted``) may extend
        the lifetime; a pull answer can only shorten it.
        """
        current_text = x.text(answer, "CurrentTime")
        terminates_text = x.text(answer, "TerminationTime")
        current = x.parse_datetime(current_text)
        terminates = x.parse_datetime(terminates_text)
        if terminates is None:
            return
        now = current if current is not None else self._session.device_now()
        lifetime = (terminates - now).total_seconds()
        if granted and lifetime > 0:
            self.granted = lifetime
        if "." not in current_text or "." not in terminates_text:
            lifetime -= 1.0
        expires = received + lifetime
        self._expires = expires if granted else min(self._expires, expires)

    async def create(self) -> None:
        """``CreatePullPointSubscription``; the address is checked by the URL policy."""
        body = (
            "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>"
            f"{x.format_duration(self.lifetime)}</tev:InitialTerminationTime>"
            "</tev:CreatePullPointSubscription>"
        )
        self._reported_address = ""
        self._reference = ""
        answer = await self._session.call(
            self._xaddr,
            "CreatePullPointSubscription",
            body,
            action=_CREATE,
            header=self._header(_CREATE),
            timeout=self.request_timeout,
        )
        received = time.monotonic()
        reference = x.find(answer, "SubscriptionReference")
        address = x.text(reference, "Address")
        self._reported_address = address
        self.address = self._session.policy.service(address) if address else self._xaddr
        params = x.find(reference, "ReferenceParameters")
        # Devices that route by reference parameters need them echoed as headers.
        self._reference = "".join(
            ElementTree.tostring(child, encoding="unicode")
            for child in (params if params is not None else ())
        )
        self._expires = received + self.lifetime
        self._track_termination(answer, received, granted=True)

    @property
    def remaining(self) -> float:
        """Seconds until the device drops the subscription unless renewed."""
        return self._expires - time.monotonic()

    def _poll_seconds(self) -> float:
        # A poll must end before the subscription would.
        return max(0.2, min(self.pull_timeout, self.granted / 2))

    async def pull(self) -> list[Notification]:
        """Renew if due, then one ``PullMessages`` long poll."""
        assert self.address is not None, "create() first"
        poll = self._poll_seconds()
        if self.remaining < poll + min(5.0, max(0.5, self.granted / 4)):
            await self.renew()
        body = (
            f"<tev:PullMessages><tev:Timeout>{x.format_duration(poll)}</tev:Timeout>"
            f"<tev:MessageLimit>{self.message_limit}</tev:MessageLimit></tev:PullMessages>"
        )
        answer = await self._session.call(
            self.address,
            "PullMessages",
            body,
            action=_PULL,
            header=self._header(_PULL),
            timeout=poll + self.request_timeout,
        )
        self._track_termination(answer, time.monotonic(), granted=False)
        return parse_notifications(answer)

    async def renew(self) -> None:
        """``Renew``; firmware without it gets a fresh subscription instead."""
        assert self.address is not None
        body = (
            f"<wsnt:Renew><wsnt:TerminationTime>{x.format_duration(self.lifetime)}"
            "</wsnt:TerminationTime></wsnt:Renew>"
        )
        try:
            answer = await self._session.call(
                self.address,
                "Renew",
                body,
                action=_RENEW,
                header=self._header(_RENEW),
                timeout=self.request_timeout,
            )
        except (DeviceError, UnsupportedCapabilityError) as exc:
            log.debug("%s: Renew failed (%s); subscribing again", self._session.shown, exc)
            await self.unsubscribe()
            await self.create()
            return
        received = time.monotonic()
        self._expires = received + self.granted
        self._track_termination(answer, received, granted=True)
        self.renewals += 1

    async def unsubscribe(self) -> None:
        """``Unsubscribe``, best effort and bounded: the device drops us at expiry anyway."""
        address, self.address = self.address, None
        if address is None:
            return
        try:
            async with asyncio.timeout(min(2.0, self.request_timeout)):
                await self._session.call(
                    address,
                    "Unsubscribe",
                    "<wsnt:Unsubscribe/>",
                    action=_UNSUBSCRIBE,
                    header=self._header(_UNSUBSCRIBE),
                )
        except (CamError, TimeoutError) as exc:
            log.debug("%s: Unsubscribe failed (%s)", self._session.shown, exc)


async def pull_events(
    session: SoapSession,
    xaddr: str,
    *,
    camera_id: str,
    pull_timeout: float,
    request_timeout: float,
    channel_tokens: Collection[str] = (),
) -> AsyncIterator[CameraEvent]:
    """Yield raw events from a PullPoint subscription until closed or failing."""
    subscription = PullPointSubscription(
        session, xaddr, pull_timeout=pull_timeout, request_timeout=request_timeout
    )
    await subscription.create()
    try:
        while True:
            for note in await subscription.pull():
                if channel_tokens and not for_channel(note, channel_tokens):
                    continue
                for event in to_events(note, camera_id=camera_id):
                    yield event
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


async def metadata_events(
    documents: AsyncIterator[bytes], *, channel_tokens: Collection[str] = ()
) -> AsyncIterator[CameraEvent]:
    """Events carried in-band by the ONVIF metadata track of an RTSP stream.

    Each document is a ``tt:MetadataStream`` whose ``tt:Event`` holds the same
    ``wsnt:NotificationMessage`` elements a PullPoint answer does; documents
    that cannot be parsed are skipped (a camera's metadata is advisory).
    """
    async for document in documents:
        try:
            root = x.parse(document)
        except x.XmlError:
            log.debug("skipping a metadata document that is not XML")
            continue
        for note in parse_notifications(root):
            if channel_tokens and not for_channel(note, channel_tokens):
                continue
            for event in to_events(note):
                yield event
