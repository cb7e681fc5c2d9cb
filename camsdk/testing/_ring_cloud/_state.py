"""What the simulated Ring cloud knows: devices, dings, and the media it hands out.

Devices are shaped like ``ring_devices`` entries (``id``, ``description``,
``kind``, ``battery_life``, ``firmware_version``, ``settings``, ``alerts``
...), dings like the three shapes the API carries them in (push 2.0.0,
``dings/active``, device history) and ``video_search`` recordings. Ids are
above 2**53 on purpose: a client that reads them as floats gets them wrong.
"""

from __future__ import annotations

import io
import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["SimDevice", "SimDing", "default_devices", "small_jpeg", "small_mp4"]

_BIG = 2**60
_DING_IDS = itertools.count(7_300_000_000_000_000_001)
_FAMILY_GROUP = {"doorbot": "doorbots", "stickup_cam": "stickup_cams", "intercom": "other"}


@dataclass
class SimDevice:
    """One simulated device. ``battery=None`` is a wired device."""

    family: str
    id: int
    name: str
    kind: str
    battery: int | None = None
    e2ee: bool = False
    shared: bool = False
    online: bool = True
    location_id: str = "sim-location-1"
    live_view_disabled: bool = False
    firmware: str = "cam-1.24.5000"

    @property
    def key(self) -> str:
        """``<family>-<id>``, as the driver keys it."""
        return f"{self.family}-{self.id}"

    @property
    def has_video(self) -> bool:
        """Intercoms have no camera."""
        return self.family != "intercom"

    @property
    def group(self) -> str:
        """The ``ring_devices`` key this device is listed under."""
        return "authorized_doorbots" if self.shared else _FAMILY_GROUP[self.family]

    def as_json(self) -> dict[str, Any]:
        """The device as ``ring_devices`` lists it."""
        battery = {"battery_life": str(self.battery) if self.battery is not None else None,
                   "battery_life_2": None, "external_connection": self.battery is None}
        settings: dict[str, Any] = {
            "power_mode": "battery" if self.battery is not None else "wired",
            "live_view_disabled": self.live_view_disabled,
            "motion_detection_enabled": True,
            "e2ee_enabled": self.e2ee,
            "sheila_settings": {"cv_processing_enabled": True, "local_storage_enabled": False},
        }
        return {
            "id": self.id, "description": self.name, "kind": self.kind,
            "device_id": f"5c475e{self.id % 0xFFFFFF:06x}", "location_id": self.location_id,
            "address": "1 Simulated Street", "firmware_version": self.firmware,
            "time_zone": "Europe/London", "owned": not self.shared,
            "owner": {"id": 424242, "email": "redacted@example.invalid"},
            "alerts": {"connection": "online" if self.online else "offline"},
            "features": {"motions_enabled": True, "show_recordings": True},
            "settings": settings, "subscribed": True, "subscribed_motions": True,
            "health": {"device_type": self.kind, "connected": self.online},
            **battery,
        }


def default_devices() -> list[SimDevice]:
    """A wired doorbell, a battery spotlight cam, a shared doorbell, an intercom whose id
    is the doorbell's (ids repeat across families), and a camera with E2EE on."""
    return [
        SimDevice("doorbot", _BIG + 7, "Front Door", "lpd_v4"),
        SimDevice("stickup_cam", _BIG + 21, "Garden", "stickup_cam_v4", battery=87),
        SimDevice("doorbot", _BIG + 99, "Neighbour's Door", "doorbell_v5", battery=55,
                  shared=True),
        SimDevice("intercom", _BIG + 7, "Building Intercom", "intercom_handset_audio"),
        SimDevice("stickup_cam", _BIG + 42, "Garage", "cocoa_camera", e2ee=True),
    ]


@dataclass
class SimDing:
    """One event the cloud keeps (for ``dings/active``, history, recordings and push)."""

    id: int
    device: SimDevice
    kind: str  # ding, motion, intercom_unlock
    detection: str  # human, motion, "" ...
    created: float = field(default_factory=time.time)
    snapshot_uuid: str = field(default_factory=lambda: secrets.token_hex(16))
    duration: float = 12.0

    @classmethod
    def make(cls, device: SimDevice, kind: str, detection: str = "") -> SimDing:
        """A new ding with the next (big) id."""
        return cls(next(_DING_IDS), device, kind, detection)

    @property
    def created_iso(self) -> str:
        """``created_at`` as Ring writes it."""
        moment = datetime.fromtimestamp(self.created, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def active_json(self) -> dict[str, Any]:
        """As ``dings/active`` lists it."""
        return {"id": self.id, "id_str": str(self.id), "state": "ringing",
                "protocol": "sip", "doorbot_id": self.device.id,
                "doorbot_description": self.device.name, "device_kind": self.device.kind,
                "motion": self.kind == "motion", "kind": self.kind,
                "detection_type": self.detection or None, "created_at": self.created_iso,
                "now": time.time(), "expires_in": 180, "snapshot_url": ""}

    def history_json(self) -> dict[str, Any]:
        """As a device's ``events`` history lists it."""
        return {"ding_id": self.id, "ding_id_str": str(self.id), "created_at": self.created_iso,
                "doorbot_id": self.device.id, "kind": self.kind, "favorite": False,
                "recorded": False, "recording_status": "ready", "state": "timed_out",
                "cv_properties": {"detection_type": self.detection or None,
                                  "person_detected": self.detection == "human" or None,
                                  "stream_broken": None}}

    def recording_json(self, base: str) -> dict[str, Any]:
        """As ``video_search/history`` lists it (URLs on the simulator)."""
        link = f"{base}/media/{self.id}.mp4"
        return {"ding_id": str(self.id), "created_at": int(self.created * 1000),
                "hq_url": link, "lq_url": link, "untranscoded_url": link,
                "thumbnail_url": "", "kind": self.kind, "state": "timed_out",
                "had_subscription": True, "favorite": False, "duration": self.duration,
                "preroll_duration": None,
                "cv_properties": {"person_detected": self.detection == "human" or None,
                                  "detection_type": self.detection or None,
                                  "stream_broken": None}}

    def push_json(self) -> dict[str, Any]:
        """As a push notification (format 2.0.0) carries it."""
        device = self.device
        if self.kind == "intercom_unlock":
            return {"data": {"gcmData": {
                "action": "com.ring.push.INTERCOM_UNLOCK_FROM_APP",
                "alarm_meta": {"device_zid": device.id, "location_id": device.location_id},
                "ding_id_str": str(self.id), "triggered_at": int(self.created * 1000)}}}
        category = {"ding": "com.ring.pn.live-event.ding",
                    "motion": "com.ring.pn.live-event.motion"}[self.kind]
        if device.family == "intercom":
            category = "com.ring.pn.live-event.intercom"
        subtype = self.detection or self.kind
        return {
            "version": "2.0.0",
            "android_config": {"category": category, "body": f"{device.name}: {self.kind}"},
            "analytics": {"server_id": "com.ring.pns", "triggered_at": int(self.created * 1000),
                          "sent_at": int(time.time() * 1000),
                          "referring_item_type": "ding", "referring_item_id": str(self.id)},
            "data": {
                "device": {"e2ee_enabled": device.e2ee, "id": device.id, "kind": device.kind,
                           "name": device.name},
                "event": {"ding": {"id": str(self.id), "created_at": self.created_iso,
                                   "subtype": subtype,
                                   "detection_type": self.detection or None},
                          "riid": secrets.token_hex(8), "is_sidewalk": False},
                "location": {"id": device.location_id},
            },
            "img": {"snapshot_uuid": self.snapshot_uuid},
        }


_JPEG: bytes | None = None
_MP4: bytes | None = None


def small_jpeg() -> bytes:
    """A small real JPEG (made once)."""
    global _JPEG
    if _JPEG is None:
        import av
        import numpy as np

        frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 70, np.uint8), format="rgb24")
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mjpeg") as container:
            stream = container.add_stream("mjpeg", rate=1)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuvj420p"
            for packet in stream.encode(frame.reformat(format="yuvj420p")):
                container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        _JPEG = buffer.getvalue()
    return _JPEG


def small_mp4() -> bytes:
    """A one-second H.264 clip in MP4, as Ring stores recordings (made once)."""
    global _MP4
    if _MP4 is None:
        import av
        import numpy as np

        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            for index in range(10):
                pixels = np.full((120, 160, 3), index * 20, np.uint8)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(
                    format="yuv420p")
                frame.pts = index
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        _MP4 = buffer.getvalue()
    return _MP4
