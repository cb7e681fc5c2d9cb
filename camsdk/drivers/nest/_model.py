"""SDM API records, read tolerantly: devices, their traits, structures and rooms.

A device is ``{"name": "enterprises/<project>/devices/<id>", "type":
"sdm.devices.types.CAMERA", "traits": {...}, "parentRelations": [{"parent":
"enterprises/<project>/structures/<s>/rooms/<r>", "displayName": "Hall"}]}``.
What camsdk reads of the traits:

- ``CameraLiveStream``: ``supportedProtocols`` (``RTSP``, ``WEB_RTC``),
  ``maxVideoResolution``, ``videoCodecs``, ``audioCodecs``;
- ``CameraEventImage`` / ``CameraClipPreview``: how events come with
  pictures (an image per event id, or a short MP4 per event session);
- ``CameraMotion``, ``CameraPerson``, ``CameraSound``, ``DoorbellChime``:
  the events the device sends;
- ``Info.customName``; ``Connectivity.status`` where present.

A malformed record yields ``None`` (skipped), never an exception: one odd
device must not take the whole account down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CAMERA_TRAITS",
    "EVENT_TRAITS",
    "TRAIT",
    "NestDevice",
    "parse_device",
    "parse_structures",
]

TRAIT = "sdm.devices.traits."
LIVE_STREAM = TRAIT + "CameraLiveStream"
EVENT_IMAGE = TRAIT + "CameraEventImage"
CLIP_PREVIEW = TRAIT + "CameraClipPreview"
#: Traits that make a device a camera for camsdk.
CAMERA_TRAITS = frozenset({LIVE_STREAM, EVENT_IMAGE, CLIP_PREVIEW})
#: Traits whose events camsdk normalises.
EVENT_TRAITS = frozenset({TRAIT + "CameraMotion", TRAIT + "CameraPerson",
                          TRAIT + "CameraSound", TRAIT + "DoorbellChime"})
_TYPE_NAMES = {
    "sdm.devices.types.CAMERA": "Camera",
    "sdm.devices.types.DOORBELL": "Doorbell",
    "sdm.devices.types.DISPLAY": "Display",
}
_MAX_TEXT = 200


def _text(value: Any) -> str:
    return value[:_MAX_TEXT] if isinstance(value, str) else ""


def _last(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class NestDevice:
    """One device of the project, as the SDM API described it."""

    name: str
    id: str
    type: str
    traits: Mapping[str, Any] = field(default_factory=dict, repr=False)
    custom_name: str = ""
    room: str = ""
    structure: str = ""

    def has(self, trait: str) -> bool:
        """Whether the device has ``trait`` (short name, e.g. ``CameraEventImage``)."""
        return (trait if trait.startswith(TRAIT) else TRAIT + trait) in self.traits

    def _live(self) -> Mapping[str, Any]:
        live = self.traits.get(LIVE_STREAM)
        return live if isinstance(live, Mapping) else {}

    def _strings(self, key: str) -> tuple[str, ...]:
        values = self._live().get(key)
        if not isinstance(values, list):
            return ()
        return tuple(v.upper() for v in values if isinstance(v, str))[:16]

    @property
    def protocols(self) -> tuple[str, ...]:
        """Live stream protocols the device supports (``RTSP``, ``WEB_RTC``)."""
        return self._strings("supportedProtocols")

    @property
    def video_codecs(self) -> tuple[str, ...]:
        """Video codecs of the live stream (``H264``)."""
        return self._strings("videoCodecs")

    @property
    def audio_codecs(self) -> tuple[str, ...]:
        """Audio codecs of the live stream (``AAC`` for RTSP, ``OPUS`` for WebRTC)."""
        return self._strings("audioCodecs")

    @property
    def resolution(self) -> tuple[int | None, int | None]:
        """``maxVideoResolution`` as (width, height)."""
        size = self._live().get("maxVideoResolution")
        if not isinstance(size, Mapping):
            return None, None
        width, height = size.get("width"), size.get("height")
        ok = all(isinstance(v, int) and 0 < v <= 16384 for v in (width, height))
        return (width, height) if ok else (None, None)

    @property
    def online(self) -> bool:
        """False when the device reports ``Connectivity.status`` OFFLINE."""
        connectivity = self.traits.get(TRAIT + "Connectivity")
        if isinstance(connectivity, Mapping):
            return str(connectivity.get("status", "ONLINE")).upper() != "OFFLINE"
        return True

    @property
    def is_camera(self) -> bool:
        """Whether camsdk treats the device as a camera."""
        return any(trait in self.traits for trait in CAMERA_TRAITS)

    @property
    def kind(self) -> str:
        """``Camera``, ``Doorbell``, ``Display`` (the device type, readable)."""
        return _TYPE_NAMES.get(self.type, _last(self.type).title() or "Device")

    @property
    def label(self) -> str:
        """The name people gave it: ``Info.customName``, else its room, else its type."""
        return self.custom_name or self.room or f"Nest {self.kind}"

    @property
    def structure_id(self) -> str:
        """The id of the structure (home) the device belongs to."""
        return self.structure


def parse_device(data: Any) -> NestDevice | None:
    """A `NestDevice` from an SDM device record, or ``None`` if it has no usable name."""
    if not isinstance(data, Mapping):
        return None
    name = _text(data.get("name"))
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "enterprises" or parts[2] != "devices" or not parts[3]:
        return None
    traits = data.get("traits")
    traits = dict(traits) if isinstance(traits, Mapping) else {}
    info = traits.get(TRAIT + "Info")
    custom = _text(info.get("customName")) if isinstance(info, Mapping) else ""
    room = structure = ""
    relations = data.get("parentRelations")
    if isinstance(relations, list):
        for relation in relations[:8]:
            if not isinstance(relation, Mapping):
                continue
            parent = _text(relation.get("parent")).split("/")
            if len(parent) >= 4 and parent[2] == "structures":
                structure = parent[3]
                room = _text(relation.get("displayName")) or room
                break
    return NestDevice(name=name, id=parts[3], type=_text(data.get("type")), traits=traits,
                      custom_name=custom, room=room, structure=structure)


def parse_structures(data: Any) -> dict[str, str]:
    """Structure id -> its name, from a ``structures.list`` answer."""
    found: dict[str, str] = {}
    structures = data.get("structures") if isinstance(data, Mapping) else None
    if not isinstance(structures, list):
        return found
    for item in structures[:64]:
        if not isinstance(item, Mapping):
            continue
        name = _text(item.get("name"))
        traits = item.get("traits")
        info = traits.get("sdm.structures.traits.Info") if isinstance(traits, Mapping) else None
        custom = _text(info.get("customName")) if isinstance(info, Mapping) else ""
        if name:
            found[_last(name)] = custom
    return found
