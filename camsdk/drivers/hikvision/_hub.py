"""`HikvisionHub`: ``camsdk.hub("hikvision://nvr.local")``, one camera per channel.

Connecting logs in (the same shared session the cameras then use: they
cost no further login) and reads the channel catalogue. `cameras` lists
the device's own video inputs and, on NVRs and DVRs, the cameras it
proxies, with the names set on the device, and refreshes their online
state (``/ISAPI/ContentMgmt/InputProxy/channels/status``) on every call.
A channel that exists but cannot be used is listed with ``online=False``
and the device's reason (``offline``, ``passwordError``, no video signal,
no enabled stream) instead of failing the hub.
"""

from __future__ import annotations

from typing import Any, ClassVar

from camsdk.driver import (
    CameraConfig,
    CameraDriver,
    CameraURL,
    ConfigurationError,
    DeviceError,
    HubCamera,
    HubDriver,
    SessionSlot,
    hub_camera_url,
    own_camera_url,
)

from ._api import SCHEME, SESSIONS, Catalog, HikSession, is_unsupported
from ._documents import InputChannel, parse_proxy_status
from ._driver import HikvisionDriver, acquire_session, profile_name, session_for
from ._options import HikvisionHubOptions, HikvisionOptions

__all__ = ["HikvisionHub"]

_STATUS = "/ISAPI/ContentMgmt/InputProxy/channels/status"


class HikvisionHub(HubDriver[HikvisionHubOptions]):
    """A Hikvision NVR, DVR or multi-channel camera (``docs/drivers/hikvision.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("hikvision",)
    display_name: ClassVar[str] = "Hikvision NVR / DVR (ISAPI)"
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL (no I/O)."""
        if not self.url.host:
            raise ConfigurationError("a Hikvision hub URL names the device: hikvision://nvr",
                                     scheme=SCHEME, url=self.url.redacted())
        self._key, self._base = session_for(self.url.host, self.url.port, self.options,
                                            self.username, self.password)
        self._slot: SessionSlot[HikSession] = SessionSlot("hub", scheme=SCHEME, url=self.shown)

    @property
    def session(self) -> HikSession:
        """The connected device session."""
        return self._slot.get()

    async def connect(self) -> None:
        """Log in (shared with the cameras) and read the catalogue."""
        self._slot.check_open()
        session = self._slot.fill(
            await acquire_session(self, key=self._key, base=self._base, options=self.options))
        await session.catalog()

    async def close(self) -> None:
        """Release the session (the last camera using it logs out). Idempotent."""
        if self._slot.close() is not None:
            await SESSIONS.release(self._key)

    async def _proxy_status(self, catalog: Catalog) -> dict[int, tuple[bool, str]]:
        if not catalog.proxies:
            return {}
        try:
            return parse_proxy_status(await self.session.client.get_xml(_STATUS))
        except DeviceError as exc:
            if is_unsupported(exc):
                return {}
            raise

    async def cameras(self) -> list[HubCamera]:
        """Every channel, with its name, online state and, when unusable, the reason."""
        session = self.session
        catalog = await session.catalog()
        status = await self._proxy_status(catalog)
        base_name = session.identity.name or session.identity.model or "Hikvision"
        serial = session.identity.serial or session.identity.device_id or self.url.host
        listed = []
        for channel in catalog.channels:
            online, reason = self._state(channel, catalog, status)
            streams = catalog.streams_of(channel.id)
            extra: dict[str, Any] = {
                "channel": channel.id,
                "proxy": channel.proxy,
                "streams": {profile_name(s): s.id for s in streams},
            }
            if channel.address:
                extra["address"] = channel.address
            listed.append(HubCamera(
                id=f"hikvision:{serial}/{channel.id}",
                name=channel.name or f"{base_name} {channel.id}",
                url=hub_camera_url(self, f"/{channel.id}"),
                extra=extra,
                online=online,
                reason=reason,
            ))
        return listed

    @staticmethod
    def _state(channel: InputChannel, catalog: Catalog,
               status: dict[int, tuple[bool, str]]) -> tuple[bool, str]:
        if channel.proxy and channel.id in status:
            online, detail = status[channel.id]
            if not online:
                return False, detail or "offline"
        if channel.online is False:
            return False, channel.detail or "offline"
        if not channel.enabled:
            return False, "disabled on the device"
        streams = catalog.streams_of(channel.id)
        if not any(s.enabled for s in streams):
            return False, "the device offers no enabled stream for this channel"
        return True, ""

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `HikvisionDriver` for one channel; it shares this hub's login (no I/O)."""
        self.session  # noqa: B018 - raises when not connected
        url = own_camera_url(self, camera)
        options = HikvisionOptions.model_validate(dict(url.query))
        plain = CameraURL(url.scheme, url.host, url.port, url.path)
        return HikvisionDriver(url=plain, credentials=self.login(), config=config,
                               options=options)
