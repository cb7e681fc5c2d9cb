"""The `Hub` facade: NVRs and cloud accounts that list many cameras.

A hub logs in once; the `Camera` objects it hands out share its session and
go through the same facade (policy, audit, pipeline) as any other camera.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._access import OWNER, AccessPolicy, AuditSink
from ._camera import Camera, _build_config, _driver_options
from ._driver import HubCamera, HubDriver
from ._errors import CameraClosedError, ConfigurationError
from ._log import register_secret
from ._models import CameraConfig, Credentials
from ._url import CameraURL

if TYPE_CHECKING:  # pragma: no cover
    from .privacy import PrivacyMask

__all__ = ["Hub", "open_hub"]

LIVE_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()


class Hub:
    """A connected NVR or account. Use ``async with camsdk.hub(url) as hub``."""

    def __init__(
        self,
        driver: HubDriver,
        *,
        url: CameraURL,
        principal: Any,
        policy: AccessPolicy | None,
        audit: AuditSink | None,
        masks: Iterable[PrivacyMask],
    ) -> None:
        self._driver = driver
        self._url = url
        self.url = url.redacted()
        self.scheme = url.scheme
        self._principal = principal
        self._policy = policy
        self._audit = audit
        self._masks = tuple(masks)
        self._cameras: list[Camera] = []
        self._state = "new"
        LIVE_HUBS.add(self)

    def __repr__(self) -> str:
        return f"<Hub {self.url} {self._state}>"

    async def connect(self) -> Hub:
        """Log in / reach the hub."""
        if self._state == "open":
            return self
        if self._state != "new":
            raise CameraClosedError("a closed hub cannot be reopened", url=self.url)
        self._state = "connecting"
        try:
            await self._driver.connect()
        except BaseException:
            self._state = "closed"
            with contextlib.suppress(Exception):
                await self._driver.close()
            raise
        self._state = "open"
        return self

    async def listing(self) -> list[HubCamera]:
        """The hub's cameras as plain descriptions (no Camera objects)."""
        if self._state != "open":
            raise CameraClosedError("hub is not connected", url=self.url)
        return await self._driver.cameras()

    async def cameras(self, *, config: CameraConfig | None = None) -> list[Camera]:
        """`Camera` objects for every camera of the hub, not yet connected.

        They share the hub's session; closing the hub closes them.
        """
        listing = await self.listing()
        cfg = config or self._driver.config
        cams = []
        for item in listing:
            driver = self._driver.camera_driver(item, cfg)
            cam = Camera(
                driver,
                url=CameraURL.parse(item.url),
                principal=self._principal,
                policy=self._policy,
                audit=self._audit,
                masks=self._masks,
                owns_driver=True,
            )
            cams.append(cam)
        self._cameras.extend(cams)
        return cams

    async def aclose(self) -> None:
        """Close every camera handed out, then the hub session. Idempotent."""
        self._state = "closed"
        cams, self._cameras = self._cameras, []
        for cam in cams:
            await cam.aclose()
        with contextlib.suppress(Exception):
            await self._driver.close()
        LIVE_HUBS.discard(self)

    async def __aenter__(self) -> Hub:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def open_hub(
    url: str,
    *,
    credentials: Credentials | None = None,
    config: CameraConfig | Mapping[str, Any] | None = None,
    principal: Any = OWNER,
    policy: AccessPolicy | None = None,
    audit: AuditSink | None = None,
    masks: Iterable[PrivacyMask] = (),
    **options: Any,
) -> Hub:
    """Build a `Hub` for ``url`` (no I/O). See `camsdk.hub`."""
    from ._registry import load_hub

    parsed = CameraURL.parse(url)
    redacted = parsed.redacted()
    cfg = _build_config(config, redacted, parsed.scheme)
    if parsed.password:
        register_secret(parsed.password)
    if credentials is not None:
        if not isinstance(credentials, Credentials):
            raise ConfigurationError("credentials must be camsdk.Credentials", url=redacted)
        register_secret(credentials.password.get_secret_value())
    driver_cls = load_hub(parsed.scheme, redacted)
    opts, device_url = _driver_options(driver_cls, parsed, options, redacted)  # type: ignore[arg-type]
    driver = driver_cls(url=device_url, credentials=credentials, config=cfg, options=opts)
    return Hub(driver, url=parsed, principal=principal, policy=policy, audit=audit, masks=masks)
