"""`OnvifDriver`: the ``onvif://host[:port]`` camera.

Connecting reads the device's services, identity and media profiles
(`OnvifEndpoint.load`); streams are the device's RTSP URIs handed to the
shared PyAV pipeline; snapshots come from the device's snapshot URI (the
facade falls back to a stream keyframe when that fails); events come from a
PullPoint subscription; PTZ goes through the profile's PTZ node. Every URL
the device hands back passes the caller's `UrlPolicy`. See
``docs/drivers/onvif.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from camsdk.driver import (
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraProtocolError,
    Capability,
    ConfigurationError,
    Credentials,
    DiscoveredCamera,
    PTZDriver,
    ResolvedURL,
    SessionSlot,
    Snapshot,
    StreamProfile,
    StreamSource,
    TalkChannel,
    UnsupportedCapabilityError,
    device_snapshot,
    register_secret,
    rtsp_backchannel,
    rtsp_describe,
    rtsp_metadata,
)

from ._endpoint import OnvifEndpoint, connect_endpoint
from ._media import MediaProfile, MediaService
from ._options import OnvifOptions
from ._ptz import OnvifPTZ, PTZNode, get_node

__all__ = ["OnvifDriver"]

#: Cap on a device snapshot (a 4K JPEG is a few MB).
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024


class OnvifDriver(CameraDriver[OnvifOptions]):
    """An ONVIF Profile S/T camera or one channel of an ONVIF NVR (``docs/drivers/onvif.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("onvif",)
    display_name: ClassVar[str] = "ONVIF camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT
        | Capability.STREAM
        | Capability.AUDIO
        | Capability.EVENTS
        | Capability.PTZ
        | Capability.PTZ_PRESETS
        | Capability.RECORD
        | Capability.DISCOVERY
        | Capability.TWO_WAY_AUDIO
    )
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL (no I/O)."""
        if not self.url.host:
            raise ConfigurationError(
                "an ONVIF URL names the device: onvif://host[:port]",
                scheme="onvif",
                url=self.url.redacted(),
            )
        self._shared = False
        self._slot: SessionSlot[OnvifEndpoint] = SessionSlot("camera", scheme="onvif",
                                                             url=self.shown)
        self._profiles: list[MediaProfile] = []
        self._names: dict[str, MediaProfile] = {}
        self._ptz_profile: MediaProfile | None = None
        self._node: PTZNode | None = None
        self._snapshot_uris: dict[str, str] = {}

    def share(self, endpoint: OnvifEndpoint) -> None:
        """Use an NVR hub's connected endpoint instead of opening a session (no I/O)."""
        self._shared = True
        self._slot.fill(endpoint)

    # -- identity ------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        """``onvif:<vendor>-<serial>[/<source>]`` once connected, else from the URL."""
        endpoint = self._slot.peek()
        if endpoint is None:
            return super().camera_id
        source = self.options.source
        return endpoint.base_id + (f"/{source}" if source else "")

    @property
    def endpoint(self) -> OnvifEndpoint:
        """The connected device (services, identity, session)."""
        return self._slot.get()

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Read services, identity and profiles; narrow the capabilities to what exists."""
        self._slot.check_open()
        endpoint = self._slot.peek()
        if endpoint is None:
            endpoint = self._slot.fill(await connect_endpoint(
                self.url, self.credentials, self.config, self.options))
        self._profiles = self._select_profiles(endpoint)
        self._names = self._name_profiles(self._profiles)
        self.report_capabilities(await self._probe_capabilities(endpoint))
        return self._info(endpoint)

    async def close(self) -> None:
        """Release the session (unless a hub shares it). Idempotent."""
        endpoint = self._slot.close()
        if endpoint is not None and not self._shared:
            await endpoint.session.aclose()

    def _select_profiles(self, endpoint: OnvifEndpoint) -> list[MediaProfile]:
        profiles = list(endpoint.profiles)
        source = self.options.source
        if source is not None:
            profiles = [
                p for p in profiles if source in (p.video_source, p.video_source_configuration)
            ]
            if not profiles:
                raise ConfigurationError(
                    f"the device has no video source {source!r} "
                    f"(known: {', '.join(endpoint.video_sources()) or 'none'})",
                    scheme="onvif",
                    url=self.shown,
                )
        wanted = self.options.profile
        if wanted is not None:
            chosen = self._find(profiles, wanted)
            if chosen is None:
                known = ", ".join(p.name or p.token for p in profiles) or "none"
                raise ConfigurationError(
                    f"the device has no profile {wanted!r} (known: {known})",
                    scheme="onvif",
                    url=self.shown,
                )
            profiles.remove(chosen)
            profiles.insert(0, chosen)
        return profiles

    @staticmethod
    def _find(profiles: list[MediaProfile], wanted: str) -> MediaProfile | None:
        """By token, then by name, then either ignoring case."""
        folded = wanted.lower()
        for profile in profiles:
            if profile.token == wanted:
                return profile
        for profile in profiles:
            if profile.name == wanted:
                return profile
        for profile in profiles:
            if folded in (profile.name.lower(), profile.token.lower()):
                return profile
        return None

    @staticmethod
    def _name_profiles(profiles: list[MediaProfile]) -> dict[str, MediaProfile]:
        """Profile names as camsdk shows them: the device's name, or its token where
        names are missing or repeat (NVRs name every channel's profile alike)."""
        counts: dict[str, int] = {}
        for profile in profiles:
            counts[profile.name] = counts.get(profile.name, 0) + 1
        return {(p.name if p.name and counts[p.name] == 1 else p.token): p for p in profiles}

    async def _probe_capabilities(self, endpoint: OnvifEndpoint) -> Capability:
        caps = Capability.NONE
        if endpoint.media is not None and self._profiles:
            caps |= Capability.STREAM | Capability.RECORD | Capability.SNAPSHOT
            if any(p.audio_codec for p in self._profiles):
                caps |= Capability.AUDIO
        services = endpoint.services
        if services.events and services.pullpoint is not False:
            caps |= Capability.EVENTS
        if self.options.events == "metadata" and Capability.STREAM in caps:
            caps |= Capability.EVENTS  # in-band, on the stream's metadata track
        if self.options.backchannel and Capability.STREAM in caps:
            try:
                source = await self.stream_source(self._profiles[0].name or self._profiles[0].token)
                described = await rtsp_describe(self, source, backchannel=True)
            except (UnsupportedCapabilityError, CameraProtocolError):
                described = None
            if described is not None and described.backchannel is not None:
                caps |= Capability.TWO_WAY_AUDIO
        self._ptz_profile = next((p for p in self._profiles if p.ptz_node), None)
        if services.ptz and self._ptz_profile is not None:
            node = endpoint.nodes.get(self._ptz_profile.ptz_node)
            if node is None:
                node = await get_node(endpoint.session, services.ptz, self._ptz_profile.ptz_node)
            if node is not None and node.can_move:
                self._node = node
                caps |= Capability.PTZ
                if node.max_presets > 0:
                    caps |= Capability.PTZ_PRESETS
        return caps

    def _info(self, endpoint: OnvifEndpoint) -> CameraInfo:
        ident = endpoint.identity
        source = self.options.source
        name = ident.scopes.name or ident.model
        if source:
            name = f"{name} {source}".strip()
        extra = {
            "auth": endpoint.session.auth_mode,
            "clock_offset": f"{endpoint.session.clock_offset.total_seconds():.1f}",
        }
        if endpoint.media is not None:
            extra["media"] = str(endpoint.media.version)
        return CameraInfo(
            id=self.camera_id,
            name=name,
            vendor=ident.vendor or ident.scopes.vendor,
            model=ident.model or ident.scopes.hardware,
            firmware=ident.firmware,
            serial=ident.serial,
            hardware_id=ident.hardware_id or ident.scopes.hardware,
            location=ident.scopes.location,
            profiles=self.stream_profiles(),
            extra=extra,
        )

    # -- media ---------------------------------------------------------------------------

    def stream_profiles(self) -> tuple[StreamProfile, ...]:
        """The profiles of this camera, default first."""
        return tuple(p.stream_profile(name) for name, p in self._names.items())

    def _profile(self, name: str) -> tuple[MediaService, MediaProfile]:
        media = self.endpoint.media
        if media is None:
            raise UnsupportedCapabilityError(
                "the device offers no media service", scheme="onvif", url=self.shown
            )
        profile = self._names.get(name) or self._find(self._profiles, name)
        if profile is None:
            known = ", ".join(self._names) or "none"
            raise ConfigurationError(
                f"unknown profile {name!r} (known: {known})", scheme="onvif", url=self.shown
            )
        return media, profile

    def _stream_credentials(self, resolved: ResolvedURL) -> Credentials | None:
        """The caller's credentials (else the device's own, embedded in the URI)."""
        # The session's: a hub channel shares the hub's, whoever named them.
        creds = self.endpoint.session.credentials
        if resolved.password:
            register_secret(resolved.password)  # device-embedded: scrub it from logs too
        if creds is None and resolved.username:
            creds = Credentials(resolved.username, resolved.password or "")
        return creds

    async def stream_source(self, profile: str) -> StreamSource:
        """The profile's RTSP URI (rewritten by the URL policy); credentials beside it."""
        media, chosen = self._profile(profile)
        uri = await media.stream_uri(chosen.token)
        resolved = self.endpoint.session.policy.resolve(uri, "stream")
        return StreamSource(
            url=resolved.url,
            credentials=self._stream_credentials(resolved),
            transport=self.options.transport,
            client=self.options.client,
        )

    async def snapshot(self, profile: str) -> Snapshot:
        """A JPEG from the device's snapshot URI (Digest or Basic as the device asks)."""
        media, chosen = self._profile(profile)
        session = self.endpoint.session
        uri = self._snapshot_uris.get(chosen.token)
        if uri is None:
            uri = self._snapshot_uris[chosen.token] = await media.snapshot_uri(chosen.token)
        resolved = session.policy.resolve(uri, "snapshot")
        creds = session.credentials
        if creds is None and resolved.username:
            creds = Credentials(resolved.username, resolved.password or "")
        response = await session.fetch(
            resolved.url,
            credentials=creds,
            max_bytes=MAX_SNAPSHOT_BYTES,
            timeout=self.config.snapshot_timeout,
        )
        if response.status >= 300:
            raise CameraProtocolError(
                f"snapshot URI answered HTTP {response.status}",
                scheme="onvif",
                url=self.shown,
            )
        return device_snapshot(response.content, content_type=response.media_type,
                               camera_id=self.camera_id, scheme="onvif", url=self.shown)

    # -- events and PTZ ------------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """Raw events: of a PullPoint subscription, or in-band (``events=metadata``)."""
        endpoint = self.endpoint
        if self.options.events == "metadata":
            return self._metadata_events()
        xaddr = endpoint.services.events
        if xaddr is None or Capability.EVENTS not in self.capabilities:
            raise UnsupportedCapabilityError(
                "the device offers no PullPoint events", scheme="onvif", url=self.shown
            )
        from ._events import pull_events  # imported when events are first wanted

        tokens: set[str] = set()
        if self.options.source is not None:
            for p in self._profiles:
                tokens.update(t for t in (p.video_source, p.video_source_configuration) if t)
        return pull_events(
            endpoint.session,
            xaddr,
            camera_id="",
            pull_timeout=self.options.pull_timeout,
            request_timeout=self.config.request_timeout,
            channel_tokens=tokens,
        )

    def _channel_tokens(self) -> set[str]:
        tokens: set[str] = set()
        if self.options.source is not None:
            for p in self._profiles:
                tokens.update(t for t in (p.video_source, p.video_source_configuration) if t)
        return tokens

    async def _metadata_events(self) -> AsyncIterator[CameraEvent]:
        """Notifications on the default profile's RTSP metadata track, as events."""
        from ._events import metadata_events

        profile = self._profiles[0]
        source = await self.stream_source(profile.name or profile.token)
        async with rtsp_metadata(self, source) as documents:
            async for event in metadata_events(documents, channel_tokens=self._channel_tokens()):
                yield event

    async def open_talk(self) -> TalkChannel:
        """The ONVIF audio backchannel of the default profile's stream (``backchannel=1``)."""
        if Capability.TWO_WAY_AUDIO not in self.capabilities:
            raise UnsupportedCapabilityError(
                "no ONVIF audio backchannel (open with backchannel=1 on a device that has one)",
                scheme="onvif", url=self.shown,
            )
        profile = self._profiles[0]
        return await rtsp_backchannel(self, await self.stream_source(profile.name or profile.token))

    def ptz(self) -> PTZDriver:
        """PTZ of the default profile (or the first profile with a PTZ configuration)."""
        endpoint = self.endpoint
        if self._node is None or self._ptz_profile is None or endpoint.services.ptz is None:
            raise UnsupportedCapabilityError(
                "the device reports no PTZ for this camera", scheme="onvif", url=self.shown
            )
        return OnvifPTZ(
            session=endpoint.session,
            xaddr=endpoint.services.ptz,
            profile_token=self._ptz_profile.token,
            node=self._node,
            move_timeout=self.options.move_timeout,
        )

    @classmethod
    def discover(cls, timeout: float) -> AsyncIterator[DiscoveredCamera]:
        """ONVIF cameras answering a WS-Discovery probe (see `_discovery`)."""
        from ._discovery import probe  # only discovery needs sockets of its own

        return probe(timeout)
