"""`NestHub`: a Device Access project (``nest://<project id>``), one camera per camera device.

Connecting joins the account (tokens from the store) and lists the
project's devices once: every device with a camera trait is listed with
its Nest name (``Info.customName``, else its room), type, structure and
room, and the stream protocols it offers. Devices that report
``Connectivity`` OFFLINE, or stream only with a protocol camsdk cannot
read, are listed with ``online=False`` and the reason, never failing the
hub. Thermostats and other devices are not cameras and are left out.

Each camera is a `NestDriver` sharing the hub's account: no second token
lineage, one event feed. The hub is also where the login starts:
`NestHub.authenticator` gives the OAuth steps `camsdk.cloud.login` and
``camsdk login nest://<project id>`` drive.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

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

from ._account import NestAccount, acquire_account
from ._driver import EGRESS_HOSTS, NestDriver, check_project, client_of, leave_account
from ._options import NestOptions

__all__ = ["NestHub"]


class NestHub(CloudHubDriver[NestOptions]):
    """A Google Nest Device Access project (``docs/drivers/nest.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("nest",)
    display_name: ClassVar[str] = "Google Nest account (SDM API)"
    requires: ClassVar[str] = "pip install camsdk[webrtc]"
    egress_hosts: ClassVar[tuple[str, ...]] = EGRESS_HOSTS

    def setup(self) -> None:
        """Check the URL names a project only (no I/O)."""
        check_project(self.url.host, self.url.redacted())
        if self.url.path.strip("/"):
            raise ConfigurationError(
                "a Nest hub URL names the Device Access project only: nest://<project id>",
                scheme="nest", url=self.url.redacted())
        self._slot: SessionSlot[NestAccount] = SessionSlot("hub", scheme="nest", url=self.shown)

    @classmethod
    def authenticator(cls, *, account: str, credentials: Credentials | None = None,
                      **options: Any) -> Authenticator:
        """The OAuth login (authorization code with PKCE) for project ``project_id``.

        ``options``: ``project_id`` (default: ``account``), ``client_id`` and
        ``client_secret`` (or ``credentials``), and any `NestOptions` field
        (``redirect_uri``, endpoints).
        """
        from ._oauth import NestAuthenticator

        project = str(options.pop("project_id", "") or account)
        check_project(project, f"nest://{project}")
        try:
            parsed = NestOptions.model_validate(options)
        except ValueError as exc:
            raise ConfigurationError(f"invalid Nest login options: {exc}", scheme="nest") from None
        client = client_of(parsed, credentials)
        if client is None:
            raise ConfigurationError(
                "a Nest login needs the OAuth client: client_id= and client_secret= "
                "(a 'Desktop app' or 'Web application' client of your Google Cloud project)",
                scheme="nest")
        return NestAuthenticator(account=account, project_id=project, client_id=client[0],
                                 client_secret=client[1], options=parsed)

    def allowed_hosts(self) -> frozenset[str]:
        """The declared hosts, plus endpoints the caller moved (their explicit choice)."""
        return super().allowed_hosts() | self.options.overridden_hosts()

    @property
    def account(self) -> NestAccount:
        """The shared account (after `connect`)."""
        return self._slot.get()

    def audit_record(self, event: str, **fields: Any) -> None:
        """Write to the hub's audit log (when the facade gave the hub one)."""
        hook = getattr(self, "_audit_hook", None)
        if hook is not None:
            hook({"event": event, **fields})

    def _hook(self) -> Any:
        return self._audit if getattr(self, "_audit_hook", None) is not None else None

    def _audit(self, record: dict[str, Any]) -> None:
        self.audit_record(**record)

    async def connect(self) -> None:
        """Join the account and list its devices once."""
        self._slot.check_open()
        account = self._slot.fill(await acquire_account(
            self.url.host, self.options, self.config, self.allowed_hosts(),
            client_of(self.options, self.credentials)))
        account.attach(id(self), self._hook())
        try:
            with account.audit.acting_for(self._hook()):
                await account.devices()
                await account.structures()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Release the shared account. Idempotent."""
        await leave_account(self._slot.close(), self)

    async def cameras(self) -> list[HubCamera]:
        """Every camera device; unusable ones with ``online=False`` and why."""
        account = self.account
        with account.audit.acting_for(self._hook()):
            devices = await account.devices()
            structures = await account.structures()
        listed = []
        for device in devices:
            if not device.is_camera:
                continue
            usable = [p for p in device.protocols if p in ("RTSP", "WEB_RTC")]
            reason = ""
            if not device.online:
                reason = "the device is offline"
            elif not usable:
                reason = (f"it streams with {', '.join(device.protocols) or 'nothing'}, which "
                          "camsdk cannot read")
            listed.append(HubCamera(
                id=f"nest:{device.id}", name=device.label,
                url=hub_camera_url(self, "/" + quote(device.id, safe="")),
                extra={"type": device.type, "model": f"Nest {device.kind}",
                       "structure": structures.get(device.structure, ""), "room": device.room,
                       "protocols": list(device.protocols),
                       "traits": sorted(t.rsplit(".", 1)[-1] for t in device.traits)},
                online=not reason, reason=reason))
        return listed

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `NestDriver` for ``camera``: it joins the hub's account (no I/O)."""
        url = own_camera_url(self, camera, same_port=False)
        bare = CameraURL("nest", url.host, None, url.path)
        return NestDriver(url=bare, credentials=self.credentials, config=config,
                          options=self.options)
