"""The gateway's cameras: adopted ones (connected, with health and thumbnails) and findings.

Every adopted camera is one `camsdk.Camera` opened as the owner, with the
gateway's policy, audit log and the camera's own masks; viewers reach it
only through `Camera.acting_for`, so they share its one upstream. A camera
that cannot be reached is retried with capped backoff and shown offline
with the reason (never a password).

What discovery (`camsdk.discover`) and the hubs (NVRs, accounts) list is
"found, not adopted" until the owner adopts it: nothing is connected, and
nothing can be shared, before that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import camsdk

from .._access import OWNER, AccessPolicy, AuditSink
from .._camera import Camera, CameraState
from .._errors import CamError, ConfigurationError
from .._hub import Hub
from .._log import get_logger, scrub
from .._models import DiscoveredCamera
from .._url import CameraURL
from ._config import CameraEntry, EgressSettings, HubEntry
from ._footage import FootageRecorder, list_segments

__all__ = ["CameraSlot", "Finding", "Inventory"]

log = get_logger("camsdk.serve.inventory")
Discover = Callable[..., AsyncIterator[DiscoveredCamera]]
_THUMB_MAX_AGE = 5.0


@dataclass(slots=True)
class CameraSlot:
    """One adopted camera and how it is doing."""

    name: str
    entry: CameraEntry
    source: str
    camera: Camera | None = None
    state: str = "connecting"
    error: str = ""
    thumbnail: bytes | None = None
    thumbnail_at: float = 0.0
    recorder: FootageRecorder | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def camera_id(self) -> str | None:
        """The device's id (what grants name), once connected."""
        cam = self.camera
        return cam.id if cam is not None and cam.state is CameraState.OPEN else None

    @property
    def online(self) -> bool:
        """Whether the camera is connected."""
        return self.camera_id is not None


@dataclass(slots=True)
class Finding:
    """A camera found by discovery or listed by a hub, not adopted."""

    finding_id: str
    url: str
    name: str
    vendor: str
    model: str
    address: str
    source: str
    #: For hub cameras: the hub's `Camera` object, unconnected until adopted.
    hub_camera: Camera | None = field(default=None, repr=False)

    def public(self) -> dict[str, str]:
        """What the owner page shows (the URL redacted)."""
        return {"finding_id": self.finding_id, "url": CameraURL.parse(self.url).redacted(),
                "name": self.name, "vendor": self.vendor, "model": self.model,
                "address": self.address, "source": self.source}


def _finding_id(source: str, url: str) -> str:
    return hashlib.sha256(f"{source}\n{url}".encode()).hexdigest()[:16]


class Inventory:
    """Adopted cameras, hubs and findings (see the module docstring)."""

    def __init__(self, *, policy: AccessPolicy, audit: AuditSink, egress: EgressSettings,
                 footage_dir: Path, segment_seconds: float,
                 discover: Discover | None = None) -> None:
        self._policy = policy
        self._audit = audit
        self._egress = egress
        self._footage_dir = footage_dir
        self._segment_seconds = segment_seconds
        self._discover = discover or camsdk.discover
        self.slots: dict[str, CameraSlot] = {}
        self.findings: dict[str, Finding] = {}
        self.hubs: dict[str, Hub] = {}
        self.scanning = False
        self._closed = False

    # -- adopted cameras ------------------------------------------------------------------

    def add(self, entry: CameraEntry, source: str, hub_camera: Camera | None = None
            ) -> CameraSlot:
        """Adopt ``entry`` and start connecting it in the background."""
        if entry.name in self.slots:
            raise ConfigurationError(f"a camera named {entry.name!r} exists")
        if hub_camera is None and not self._egress.permits(entry.url):
            raise ConfigurationError(f"{entry.name}: its host is outside the declared egress")
        slot = CameraSlot(entry.name, entry, source)
        self.slots[entry.name] = slot
        slot.task = asyncio.get_running_loop().create_task(
            self._keep_connected(slot, hub_camera), name=f"camsdk-gateway-{entry.name}"
        )
        return slot

    def _open(self, entry: CameraEntry) -> Camera:
        options: dict[str, Any] = dict(entry.options)
        return camsdk.open(entry.url, credentials=entry.credentials(), config=entry.config,
                           principal=OWNER, policy=self._policy, audit=self._audit,
                           masks=entry.masks, **options)

    async def _keep_connected(self, slot: CameraSlot, hub_camera: Camera | None) -> None:
        backoff = 1.0
        while not self._closed:
            try:
                camera = hub_camera if hub_camera is not None else self._open(slot.entry)
                hub_camera = None  # a closed hub camera cannot be reopened: one try
                slot.camera = camera
                await camera.connect()
            except CamError as exc:
                slot.state, slot.error = "offline", scrub(str(exc))
                log.warning("camera %s is offline: %s", slot.name, slot.error)
                if slot.camera is not None:
                    await slot.camera.aclose()
                    slot.camera = None
                if slot.source.startswith("hub:"):
                    return
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, 60.0)
                continue
            slot.state, slot.error = "online", ""
            if slot.entry.record and slot.recorder is None:
                slot.recorder = FootageRecorder(
                    camera, self._footage_dir / slot.name,
                    segment_seconds=self._segment_seconds, profile=slot.entry.profile,
                )
                slot.recorder.start()
            return

    def by_camera_id(self, camera_id: str) -> CameraSlot | None:
        """The slot whose connected camera has ``camera_id``."""
        return next((s for s in self.slots.values() if s.camera_id == camera_id), None)

    def footage_dir(self, name: str) -> Path:
        """Where ``name``'s footage is kept."""
        return self._footage_dir / name

    async def thumbnail(self, name: str) -> bytes | None:
        """A recent JPEG of camera ``name`` as the owner sees it (masks applied), or None."""
        slot = self.slots.get(name)
        if slot is None or slot.camera is None or not slot.online:
            return None
        if slot.thumbnail is not None and time.monotonic() - slot.thumbnail_at < _THUMB_MAX_AGE:
            return slot.thumbnail
        try:
            snap = await slot.camera.snapshot(max_age=_THUMB_MAX_AGE, purpose="owner page")
        except CamError as exc:
            slot.error = scrub(str(exc))
            return slot.thumbnail
        slot.thumbnail, slot.thumbnail_at = snap.jpeg, time.monotonic()
        return snap.jpeg

    def health(self, slot: CameraSlot, viewers: int) -> dict[str, Any]:
        """What the owner page shows about a camera."""
        cam = slot.camera
        info: dict[str, Any] = {}
        if cam is not None and slot.online:
            info = {"vendor": cam.info.vendor, "model": cam.info.model}
        segments = list_segments(self.footage_dir(slot.name)) if slot.entry.record else []
        return {
            "name": slot.name, "camera_id": slot.camera_id, "source": slot.source,
            "state": slot.state, "error": slot.error, "url": CameraURL.parse(
                slot.entry.url).redacted(),
            "record": slot.entry.record, "viewers": viewers,
            "owner_masks": len(slot.entry.masks),
            "footage": {
                "segments": len(segments),
                "from": segments[0].start.isoformat() if segments else None,
                "until": segments[-1].end.isoformat() if segments else None,
                "error": slot.recorder.last_error if slot.recorder else "",
            },
            **info,
        }

    # -- hubs and discovery ----------------------------------------------------------------

    async def add_hub(self, entry: HubEntry) -> None:
        """Connect a hub and list its cameras as findings."""
        options: dict[str, Any] = dict(entry.options)
        hub = camsdk.hub(entry.url, credentials=entry.credentials(), config=entry.config,
                         principal=OWNER, policy=self._policy, audit=self._audit, **options)
        self.hubs[entry.name] = hub
        try:
            await hub.connect()
            listing = [item for item in await hub.listing() if item.online]
            cameras = await hub.cameras()
        except CamError as exc:
            log.warning("hub %s is unreachable: %s", entry.name, scrub(str(exc)))
            return
        source = f"hub:{entry.name}"
        for item, camera in zip(listing, cameras, strict=False):
            fid = _finding_id(source, item.id)
            self.findings[fid] = Finding(fid, item.url, item.name, "", "", "", source, camera)

    async def scan(self, timeout: float, schemes: tuple[str, ...] | None) -> int:
        """Run discovery; new cameras become findings. Returns how many were found."""
        if self.scanning:
            return 0
        self.scanning = True
        adopted = {s.entry.url for s in self.slots.values()}
        found = 0
        try:
            async with contextlib.aclosing(
                self._discover(timeout=timeout, schemes=schemes)  # type: ignore[type-var]
            ) as results:
                async for item in results:
                    if item.url in adopted or not self._egress.permits(item.url):
                        continue
                    fid = _finding_id("discovery", item.url)
                    self.findings[fid] = Finding(fid, item.url, item.name, item.vendor,
                                                 item.model, item.address, "discovery")
                    found += 1
        finally:
            self.scanning = False
        return found

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop recorders, close cameras and hubs."""
        self._closed = True
        for slot in self.slots.values():
            if slot.task is not None:
                slot.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await slot.task
            if slot.recorder is not None:
                await slot.recorder.aclose()
            if slot.camera is not None:
                await slot.camera.aclose()
        for hub in self.hubs.values():
            await hub.aclose()
        self.findings.clear()
