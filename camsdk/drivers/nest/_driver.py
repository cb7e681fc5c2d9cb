"""`NestDriver`: one Google Nest camera through the Smart Device Management API.

``camsdk.open("nest://<project id>/<device id or name>")``. Connecting
joins the account (`_account`: tokens from the store, shared with the hub
and the other cameras), reads the device and narrows the capabilities to
its traits: a live stream by the protocol it supports (``RTSP`` or
``WEB_RTC``, `_streams`), events when a Pub/Sub subscription is given
(`_events`), snapshots from event images or clip previews (`_media`) and
otherwise from the stream's keyframe (the facade's fallback). Structure
and room become ``CameraInfo.location``. See ``docs/drivers/nest.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote

import camsdk
from camsdk.driver import (
    CameraClosedError,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    Capability,
    ConfigurationError,
    PacketSource,
    SessionSlot,
    Snapshot,
    StreamOpenError,
    StreamProfile,
    UnsupportedCapabilityError,
    current_request,
    register_secret,
)

from ._account import NestAccount, acquire_account, release_account
from ._messages import DeviceMedia
from ._model import EVENT_IMAGE, EVENT_TRAITS, NestDevice
from ._options import NestOptions
from ._streams import StreamLeases

__all__ = ["EGRESS_HOSTS", "NestDriver", "leave_account"]

#: What a Nest driver may contact: the three APIs, event media, live RTSP streams.
EGRESS_HOSTS: tuple[str, ...] = (
    "smartdevicemanagement.googleapis.com",
    "oauth2.googleapis.com",
    "pubsub.googleapis.com",
    "*.googleapis.com",
    "*.dropcam.com",
)
#: Event images can be generated this long after their event.
IMAGE_LIFETIME = 30.0


def client_of(options: NestOptions, credentials: camsdk.Credentials | None
              ) -> tuple[str, str] | None:
    """The OAuth client given explicitly (options win over credentials), if any."""
    client_id = options.client_id or (credentials.username if credentials else None)
    secret = options.client_secret or (
        credentials.password.get_secret_value() if credentials else None)
    if client_id and secret:
        register_secret(secret)
        return client_id, secret
    return None


def check_project(project: str, scheme_url: str) -> None:
    """A Device Access project id is a UUID-like name: letters, digits and dashes."""
    if not project or not all(c.isalnum() or c in "-_" for c in project):
        raise ConfigurationError(
            "a Nest URL names the Device Access project: nest://<project id>[/<device>]",
            scheme="nest", url=scheme_url)


async def leave_account(account: NestAccount | None, holder: object) -> None:
    """Detach ``holder`` (a camera or hub) from the shared account and release it."""
    if account is not None:
        account.detach(id(holder))
        await release_account(account)


class NestDriver(CameraDriver[NestOptions]):
    """A Google Nest camera or doorbell (``docs/drivers/nest.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("nest",)
    display_name: ClassVar[str] = "Google Nest camera (SDM API)"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT | Capability.STREAM | Capability.RECORD | Capability.AUDIO
        | Capability.EVENTS
    )
    requires: ClassVar[str] = "pip install camsdk[webrtc]"
    egress_hosts: ClassVar[tuple[str, ...]] = EGRESS_HOSTS

    def setup(self) -> None:
        """Check the URL: a project and a device (no I/O)."""
        check_project(self.url.host, self.url.redacted())
        self._ref = unquote(self.url.path.strip("/"))
        if not self._ref or "/" in self._ref:
            raise ConfigurationError(
                "a Nest camera URL names the project and the device: "
                "nest://<project id>/<device id or name>", scheme="nest",
                url=self.url.redacted())
        self.project = self.url.host
        self._slot: SessionSlot[NestAccount] = SessionSlot("camera", scheme="nest",
                                                           url=self.shown)
        self._device: NestDevice | None = None
        self._structure = ""
        #: Live streams of this camera, made on first use.
        self.leases: StreamLeases | None = None

    # -- identity ----------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        """``nest:<device id>`` (before connecting: as the URL names the device)."""
        return f"nest:{self._device.id if self._device is not None else self._ref}"

    def allowed_hosts(self) -> frozenset[str]:
        """The declared hosts, plus endpoints the caller moved (their explicit choice)."""
        return super().allowed_hosts() | self.options.overridden_hosts()

    @property
    def account(self) -> NestAccount:
        """The shared account (after `connect`)."""
        return self._slot.get()

    @property
    def device(self) -> NestDevice:
        """The device as the SDM API last described it."""
        if self._device is None:
            raise CameraClosedError("camera is not connected", scheme="nest", url=self.shown)
        return self._device

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Join the account, read the device, narrow the capabilities to its traits."""
        self._slot.check_open()
        account = self._slot.fill(await acquire_account(
            self.project, self.options, self.config, self.allowed_hosts(),
            client_of(self.options, self.credentials)))
        account.attach(id(self), self._hook())
        try:
            with account.audit.acting_for(self._hook()):
                self._device = await self._find()
                structures = await account.structures()
            self._structure = structures.get(self._device.structure, "")
            self.report_capabilities(self._capabilities_of(self._device))
            return self._info()
        except BaseException:
            await leave_account(self._slot.take(), self)
            raise

    def _hook(self) -> Any:
        """Where this camera's account-level records go (none outside a facade)."""
        return self._audit if getattr(self, "_audit_hook", None) is not None else None

    def _audit(self, record: dict[str, Any]) -> None:
        self.audit_record(**record)

    async def _find(self) -> NestDevice:
        account = self.account
        ref = self._ref
        if len(ref) >= 20 and " " not in ref:
            try:
                return await account.device(ref)
            except camsdk.DeviceError as exc:
                if exc.code not in ("NOT_FOUND", "INVALID_ARGUMENT"):
                    raise
        devices = [d for d in await account.devices() if d.is_camera]
        keys = [(d, (d.id == ref, d.custom_name == ref, d.label.lower() == ref.lower()))
                for d in devices]
        for rule in range(3):
            found = [d for d, k in keys if k[rule]]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ConfigurationError(f"{len(found)} cameras are called {ref!r}; use the id",
                                         scheme="nest", url=self.shown)
        known = ", ".join(sorted(d.label for d in devices)[:20]) or "none"
        raise ConfigurationError(f"the project has no camera {ref!r} (known: {known})",
                                 scheme="nest", url=self.shown)

    def protocol(self) -> str:
        """``RTSP`` or ``WEB_RTC``: what the stream uses (the option, else the device's)."""
        offered = self.device.protocols
        wanted = self.options.protocol
        if wanted == "rtsp":
            return "RTSP" if "RTSP" in offered else ""
        if wanted == "webrtc":
            return "WEB_RTC" if "WEB_RTC" in offered else ""
        return next((p for p in ("WEB_RTC", "RTSP") if p in offered), "")

    def _capabilities_of(self, device: NestDevice) -> Capability:
        caps = Capability.NONE
        if self.protocol():
            caps |= Capability.STREAM | Capability.RECORD | Capability.SNAPSHOT
            if device.audio_codecs:
                caps |= Capability.AUDIO
        if device.has(EVENT_IMAGE) or device.has("CameraClipPreview"):
            caps |= Capability.SNAPSHOT
        if self.options.subscription and any(t in device.traits for t in EVENT_TRAITS):
            caps |= Capability.EVENTS
        return caps

    def _info(self) -> CameraInfo:
        device = self.device
        width, height = device.resolution
        codec = (device.video_codecs[:1] or ("H264",))[0].lower()
        audio = (device.audio_codecs[:1] or (None,))[0]
        location = " / ".join(p for p in (self._structure, device.room) if p)
        extra = {"type": device.type, "protocols": ",".join(device.protocols),
                 "traits": ",".join(sorted(t.rsplit(".", 1)[-1] for t in device.traits))}
        if self._structure:
            extra["structure"] = self._structure
        if device.room:
            extra["room"] = device.room
        return CameraInfo(
            id=self.camera_id, name=device.label, vendor="Google Nest",
            model=f"Nest {device.kind}", hardware_id=device.type, location=location,
            profiles=(StreamProfile(name="main", token=self.protocol().lower() or "none",
                                    codec=codec, width=width, height=height,
                                    audio_codec=audio.lower() if audio else None),),
            extra=extra)

    async def close(self) -> None:
        """Release the shared account (the last user closes it). Idempotent."""
        await leave_account(self._slot.close(), self)

    # -- media -------------------------------------------------------------------------------

    def _leases(self) -> StreamLeases:
        if self.leases is None:
            self.leases = StreamLeases(self, self.account, self.device)
        return self.leases

    async def open_stream(self, profile: str) -> PacketSource:
        """A live stream as a lease (RTSP through camsdk's client, or WebRTC)."""
        protocol = self.protocol()
        if not protocol:
            raise UnsupportedCapabilityError(
                f"the camera streams with {', '.join(self.device.protocols) or 'nothing'}, "
                "which camsdk cannot read", scheme="nest", url=self.shown)
        if not self.device.online:
            raise StreamOpenError("the camera is offline", scheme="nest", url=self.shown)
        leases = self._leases()
        if protocol == "RTSP":
            return await leases.rtsp()
        return await leases.webrtc()

    async def snapshot(self, profile: str) -> Snapshot:
        """The newest event image or clip preview, if recent enough (else the stream's)."""
        account = self.account
        request = current_request()
        limit = request.max_age if request.max_age is not None else self.options.image_max_age
        feed = account.feed
        media = feed.media(self.device.id) if feed is not None else None
        if media is not None:
            snap = await self._event_picture(media, limit)
            if snap is not None:
                return snap
        raise UnsupportedCapabilityError(
            f"no event image of this camera in the last {limit:g} s (Nest has no live still "
            "API; the picture comes from the stream)", scheme="nest", url=self.shown)

    async def _event_picture(self, media: DeviceMedia, limit: float) -> Snapshot | None:
        from ._media import clip_snapshot, image_snapshot

        now = datetime.now(UTC)
        candidates = [m for m in (media.image, media.clip)
                      if m is not None and (now - m.at).total_seconds() <= limit]
        if not candidates:
            return None
        newest = max(candidates, key=lambda m: m.at)
        cached = media.cached
        if cached is not None and media.cached_from == newest:
            return cached
        timeout = self.config.snapshot_timeout
        if newest.kind == "image":
            if not self.device.has(EVENT_IMAGE):
                return None
            if (now - newest.at).total_seconds() > IMAGE_LIFETIME:
                return None  # Google would answer DEADLINE_EXCEEDED
            snap = await image_snapshot(self.account, self.device.id, newest, self.camera_id,
                                        width=self.options.image_width, timeout=timeout)
        else:
            snap = await clip_snapshot(self.account, newest, self.camera_id, timeout=timeout)
        media.cached, media.cached_from = snap, newest
        return snap

    # -- events ------------------------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """This camera's events from the account's Pub/Sub feed."""
        account = self.account
        subscription = self.options.subscription
        if not subscription:
            raise UnsupportedCapabilityError(
                "events need a Pub/Sub subscription: subscription=projects/<cloud project>/"
                "subscriptions/<name>", scheme="nest", url=self.shown)
        if account.feed is None:
            from ._events import NestFeed, default_topic

            account.feed = NestFeed(account, subscription=subscription,
                                    topic=self.options.topic or default_topic(self.project))
        return account.feed.subscribe(self.device.id, self.camera_id)
