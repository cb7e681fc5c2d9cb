"""`RingHub`: a Ring account (``ring://<account>``), one `Camera` per camera-like device.

Connecting opens (or joins) the account's session: the token lineage is
claimed, the stored tokens loaded (log in once with ``camsdk login ring``),
the device list read. Every doorbell, stick-up/floodlight/spotlight cam and
intercom is listed, keyed by family and id, with its battery level,
power (wired or battery), firmware and location; devices shared with the
account are marked, offline ones listed with ``online=False`` and the
reason, and devices with end-to-end encryption on listed as usable for
events with ``extra["streaming"]`` saying that Ring blocks the rest.

`RingHub.authenticator` gives Ring's login steps to `camsdk.cloud.login`
(and ``camsdk login ring``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from camsdk.cloud import Authenticator, CloudHubDriver
from camsdk.driver import (
    CameraConfig,
    CameraDriver,
    CameraURL,
    ConfigurationError,
    Credentials,
    HubCamera,
    SessionSlot,
    hub_camera_url,
    own_camera_url,
)

from ._account import STORAGE_HOSTS, RingSession, acquire_session
from ._driver import RING_HOSTS, RingDriver, account_of, release_session
from ._options import RingOptions

__all__ = ["RingHub"]


class RingHub(CloudHubDriver[RingOptions]):
    """A Ring account (``docs/drivers/ring.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("ring",)
    display_name: ClassVar[str] = "Ring account"
    requires: ClassVar[str] = "pip install camsdk[webrtc]"
    egress_hosts: ClassVar[tuple[str, ...]] = (*RING_HOSTS, *STORAGE_HOSTS)

    def setup(self) -> None:
        """Check the URL names an account only, and carries no password (no I/O)."""
        self.account = account_of(self.url.host, "hub")
        if self.url.path.strip("/"):
            raise ConfigurationError("a Ring hub URL names the account only: ring://<account>",
                                     scheme="ring", url=self.url.redacted())
        if self.login() is not None:
            raise ConfigurationError(
                "Ring is logged in to once, with 2FA: camsdk login ring (or "
                "camsdk.cloud.login('ring', ...)); the hub then uses the stored tokens",
                scheme="ring", url=self.url.redacted())
        self._slot: SessionSlot[RingSession] = SessionSlot("hub", scheme="ring", url=self.shown)

    @classmethod
    def authenticator(cls, *, account: str, credentials: Credentials | None = None,
                      **options: Any) -> Authenticator:
        """Ring's login steps: the password grant, then the 2FA code (see `_auth`)."""
        from ._auth import RingAuthenticator

        account_of(account, "hub")
        return RingAuthenticator(account=account, credentials=credentials, **options)

    @property
    def shown(self) -> str:
        """``ring://<account>``: the account names a Ring hub."""
        return f"ring://{self.account}"

    @property
    def session(self) -> RingSession:
        """The account's session (after `connect`)."""
        return self._slot.get()

    def allowed_hosts(self) -> frozenset[str]:
        """Ring's hosts as configured."""
        return super().allowed_hosts() | self.options.hosts()

    async def connect(self) -> None:
        """Open or join the account's session and read the device list."""
        self._slot.check_open()
        session = self._slot.fill(await acquire_session(self.account, self.options, self.config))
        try:
            await session.devices()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Release the account's session. Idempotent."""
        await release_session(self._slot.close())

    async def cameras(self) -> list[HubCamera]:
        """Every camera-like device; unusable ones with ``online=False`` and why."""
        listed = []
        for device in await self.session.devices():
            reason = device.problem or ("the device is offline" if not device.online else "")
            extra: dict[str, Any] = {
                "family": device.family, "ring_id": device.id, "kind": device.kind,
                "model": device.model, "firmware": device.firmware,
                "battery_level": device.battery_level,
                "power": "battery" if device.battery_powered else "wired",
                "shared": device.shared, "e2ee": device.e2ee,
                "location_id": device.location_id,
            }
            if device.e2ee:
                extra["streaming"] = "blocked: end-to-end encryption"
            listed.append(HubCamera(id=f"ring:{device.key}", name=device.name,
                                    url=hub_camera_url(self, f"/{device.key}"),
                                    extra=extra, online=not reason,
                                    reason=reason))
        return listed

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `RingDriver` for ``camera``: it joins the hub's session (no I/O)."""
        url = own_camera_url(self, camera, same_port=False, owner="this account")
        return RingDriver(url=CameraURL("ring", url.host, None, url.path), config=config,
                          options=self.options)
