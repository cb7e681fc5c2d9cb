"""`ReolinkHub`: a Reolink NVR or Home Hub as one camera per channel.

``camsdk.hub("reolink://nvr.local")`` logs in once (the shared session of
`_api.SESSIONS`), reads the device and ``GetChannelstatus``, then the
stream configuration of every online channel in one batch. Each channel is
listed with the device's own name for it; a channel that is offline, or
whose streams the device refuses (``GetEnc`` answers an error), is listed
with ``online=False`` and the reason instead of failing the hub. The
cameras it hands out are ``reolink://host[:port]/<channel>`` drivers on the
same session: opening them costs no login and no request.

A wrong password is an `AuthenticationError` from `connect`, once; nothing
retries it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from camsdk.driver import (
    CameraClosedError,
    CameraConfig,
    CameraDriver,
    ConfigurationError,
    HubCamera,
    HubDriver,
    SessionSlot,
    hub_camera_url,
    own_camera_url,
)

from ._api import SESSIONS, ReolinkSession, take_session
from ._device import DeviceState, device_state, load_channels, refresh_status
from ._driver import ReolinkDriver
from ._options import ReolinkHubOptions, ReolinkOptions

__all__ = ["ReolinkHub"]


class ReolinkHub(HubDriver[ReolinkHubOptions]):
    """A Reolink NVR / Home Hub (``docs/drivers/reolink.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("reolink",)
    display_name: ClassVar[str] = "Reolink NVR / Home Hub"
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL (no I/O)."""
        if not self.url.host:
            raise ConfigurationError("a Reolink hub URL names the device: reolink://host[:port]",
                                     scheme="reolink", url=self.shown)
        scheme = "https" if self.options.https else "http"
        self._base = f"{scheme}://{self.url.netloc_host}"
        self._key: tuple[str, str, str] | None = None
        self._slot: SessionSlot[ReolinkSession] = SessionSlot("hub", scheme="reolink",
                                                              url=self.shown)
        self._state: DeviceState | None = None

    @property
    def state(self) -> DeviceState:
        """The connected device."""
        self._slot.get()
        if self._state is None:
            raise CameraClosedError("hub is not connected", scheme="reolink", url=self.shown)
        return self._state

    async def connect(self) -> None:
        """Log in (or join this process's session) and read the device and its channels."""
        self._slot.check_open()
        self._key, session = await take_session(self, self._base)
        self._slot.fill(session)
        creds = self.login()
        assert creds is not None
        state = self._state = await device_state(session, creds.username)
        online = [c for c in state.channels()
                  if (s := state.status.get(c)) is None or (s.online and not s.sleeping)]
        await load_channels(session, state, online)

    async def close(self) -> None:
        """Let go of the shared session (the last user logs out). Idempotent."""
        if self._slot.closed:
            return
        self._slot.close()
        key, self._key = self._key, None
        if key is not None:
            await SESSIONS.release(key)

    async def cameras(self) -> list[HubCamera]:
        """One camera per channel; offline or refused channels say why."""
        state = self.state
        await refresh_status(self._slot.get(), state, max_age=1.0)
        info = state.info
        listed = []
        for channel in state.channels():
            status = state.status.get(channel)
            media = state.media.get(channel)
            online, reason = True, ""
            if status is not None and not status.online:
                online, reason = False, "offline (the NVR reports no camera on this channel)"
            elif media is not None and media.refused:
                online, reason = False, media.refused
            name = (status.name if status is not None else "") or f"{info.name} {channel + 1}"
            extra: dict[str, Any] = {"channel": channel}
            if status is not None:
                extra.update(model=status.model, uid=status.uid)
                if status.sleeping is not None:
                    extra["sleeping"] = status.sleeping
            ability = state.ability(channel)
            if ability is not None:
                extra.update(ptz=ability.ptz, battery=ability.battery)
            listed.append(HubCamera(
                id=f"reolink:{info.serial}/{channel}", name=name,
                url=hub_camera_url(self, f"/{channel}"),
                extra=extra, online=online, reason=reason,
            ))
        return listed

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `ReolinkDriver` for one channel on the hub's session (no I/O)."""
        self.state  # noqa: B018 - raises when the hub is not connected
        url = own_camera_url(self, camera)
        options = ReolinkOptions.model_validate(url.options)
        return ReolinkDriver(url=url, credentials=self.login(), config=config, options=options)
