"""The devices of a simulated Nest project, as the SDM API describes them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["SimDevice", "default_devices", "structure_json"]

TRAIT = "sdm.devices.traits."
STRUCTURE_ID = "sim-home"
STRUCTURE_NAME = "Home"


def _device_id(label: str) -> str:
    # Real ids are long URL-safe strings; a readable prefix helps in test output.
    return f"AVPHwE{label}-" + secrets.token_urlsafe(24)


@dataclass(slots=True)
class SimDevice:
    """One simulated device: its type, traits and behaviour.

    ``protocol`` is the live stream protocol; ``battery`` devices refuse
    stream extensions (Google ignores them on battery power); ``threads``
    devices send event threads (STARTED/UPDATED/ENDED), others single
    messages; ``events`` are the event traits; ``media`` how events come
    with pictures (``image``: ``CameraEventImage``, ``clip``:
    ``CameraClipPreview``, ``none``).
    """

    label: str
    type: Literal["CAMERA", "DOORBELL", "DISPLAY", "THERMOSTAT"]
    name: str
    room: str
    protocol: Literal["RTSP", "WEB_RTC", "NONE"] = "WEB_RTC"
    battery: bool = False
    threads: bool = True
    events: tuple[str, ...] = ("CameraMotion", "CameraPerson")
    media: Literal["image", "clip", "none"] = "image"
    width: int = 640
    height: int = 480
    online: bool = True
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            self.id = _device_id(self.label)

    def resource(self, project: str) -> str:
        """``enterprises/<project>/devices/<id>``."""
        return f"enterprises/{project}/devices/{self.id}"

    def traits(self) -> dict[str, Any]:
        """The ``traits`` object of the device record."""
        traits: dict[str, Any] = {TRAIT + "Info": {"customName": self.name}}
        if self.type == "THERMOSTAT":
            traits[TRAIT + "Temperature"] = {"ambientTemperatureCelsius": 21.5}
            return traits
        if self.protocol != "NONE":
            traits[TRAIT + "CameraLiveStream"] = {
                "maxVideoResolution": {"width": self.width, "height": self.height},
                "videoCodecs": ["H264"],
                "audioCodecs": ["AAC"] if self.protocol == "RTSP" else ["OPUS"],
                "supportedProtocols": [self.protocol],
            }
        if self.media == "image":
            traits[TRAIT + "CameraEventImage"] = {}
            traits[TRAIT + "CameraImage"] = {"maxImageResolution": {"width": 1280,
                                                                     "height": 960}}
        elif self.media == "clip":
            traits[TRAIT + "CameraClipPreview"] = {}
        for name in self.events:
            traits[TRAIT + name] = {}
        if not self.online:
            traits[TRAIT + "Connectivity"] = {"status": "OFFLINE"}
        return traits

    def record(self, project: str) -> dict[str, Any]:
        """The device as ``devices.get`` answers it."""
        return {
            "name": self.resource(project),
            "type": f"sdm.devices.types.{self.type}",
            "assignee": f"enterprises/{project}/structures/{STRUCTURE_ID}/rooms/{self.room}",
            "traits": self.traits(),
            "parentRelations": [{
                "parent": f"enterprises/{project}/structures/{STRUCTURE_ID}/rooms/"
                          f"{self.room.replace(' ', '-').lower()}",
                "displayName": self.room,
            }],
        }


def default_devices() -> list[SimDevice]:
    """A wired RTSP camera, a battery WebRTC doorbell, a wired WebRTC camera, a thermostat."""
    return [
        SimDevice("Rtsp", "CAMERA", "Living Room Camera", "Living Room", protocol="RTSP",
                  threads=False, events=("CameraMotion", "CameraPerson", "CameraSound"),
                  media="image"),
        SimDevice("Doorbell", "DOORBELL", "Front Door", "Entryway", protocol="WEB_RTC",
                  battery=True, events=("CameraMotion", "CameraPerson", "DoorbellChime"),
                  media="clip"),
        SimDevice("Webrtc", "CAMERA", "Garage", "Garage", protocol="WEB_RTC",
                  events=("CameraMotion", "CameraPerson"), media="image"),
        SimDevice("Thermostat", "THERMOSTAT", "Hallway Thermostat", "Hallway",
                  protocol="NONE", events=(), media="none"),
    ]


def structure_json(project: str) -> dict[str, Any]:
    """The one structure of the simulated project."""
    return {
        "name": f"enterprises/{project}/structures/{STRUCTURE_ID}",
        "traits": {"sdm.structures.traits.Info": {"customName": STRUCTURE_NAME}},
    }
