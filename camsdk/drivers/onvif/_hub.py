"""`OnvifHub`: an ONVIF NVR (or multi-sensor camera) as one camera per video source.

``camsdk.hub("onvif://nvr.local")`` connects once (`OnvifEndpoint.load`) and
lists one camera per video source token, in the order the device lists
their profiles. Each camera is an `OnvifDriver` with ``source=<token>`` that
shares the hub's session: opening it costs no further device round trips,
its profiles are that channel's, and its events are the notifications that
name its video source (plus device-wide ones such as digital inputs).
"""

from __future__ import annotations

from typing import Any, ClassVar

from camsdk.driver import (
    CameraClosedError,
    CameraConfig,
    CameraDriver,
    CameraURL,
    ConfigurationError,
    HubCamera,
    HubDriver,
)

from ._driver import OnvifDriver
from ._endpoint import OnvifEndpoint, open_session
from ._options import OnvifHubOptions, OnvifOptions

__all__ = ["OnvifHub"]


class OnvifHub(HubDriver[OnvifHubOptions]):
    """An ONVIF NVR: one camera per video source (``docs/drivers/onvif.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("onvif",)
    display_name: ClassVar[str] = "ONVIF NVR"
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Nothing to check before connecting (no I/O)."""
        self._endpoint: OnvifEndpoint | None = None
        self._closed = False

    @property
    def _shown(self) -> str:
        return self.url.without_credentials().redacted()

    @property
    def endpoint(self) -> OnvifEndpoint:
        """The connected NVR."""
        if self._closed or self._endpoint is None:
            raise CameraClosedError("hub is not connected", scheme="onvif", url=self._shown)
        return self._endpoint

    async def connect(self) -> None:
        """Connect to the NVR once; its cameras share this session."""
        if self._closed:
            raise CameraClosedError("hub is closed", scheme="onvif", url=self._shown)
        session = open_session(self.url, self.credentials, self.config, self.options)
        try:
            self._endpoint = await OnvifEndpoint.load(session, self.options.media)
        except BaseException:
            await session.aclose()
            raise

    async def close(self) -> None:
        """Close the shared session. Idempotent."""
        self._closed = True
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            await endpoint.session.aclose()

    async def cameras(self) -> list[HubCamera]:
        """One camera per video source, with ``source=<token>`` in its URL."""
        endpoint = self.endpoint
        ident = endpoint.identity
        base = ident.scopes.name or ident.model or "ONVIF"
        bare = self.url.without_credentials()
        shared = tuple(self.options.to_query().items())
        cameras = []
        for index, token in enumerate(endpoint.video_sources(), start=1):
            profiles = [
                p.name or p.token
                for p in endpoint.profiles
                if token in (p.video_source, p.video_source_configuration)
            ]
            url = CameraURL("onvif", bare.host, bare.port, "", (*shared, ("source", token)))
            cameras.append(
                HubCamera(
                    id=f"{endpoint.base_id}/{token}",
                    name=f"{base} {index}",
                    url=url.unsafe_str(),
                    extra={"video_source": token, "index": index, "profiles": profiles},
                )
            )
        return cameras

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """An `OnvifDriver` for one channel, sharing the hub's session (no I/O)."""
        endpoint = self.endpoint
        url = CameraURL.parse(camera.url)
        options = OnvifOptions.model_validate(url.options)
        if (
            url.scheme != "onvif"
            or url.host != self.url.host
            or options.source not in endpoint.video_sources()
        ):
            raise ConfigurationError(
                f"camera {camera.id!r} does not belong to this hub",
                scheme="onvif",
                url=url.redacted(),
            )
        driver = OnvifDriver(url=url, credentials=self.credentials, config=config, options=options)
        driver.share(endpoint)
        return driver

    def __repr__(self) -> str:
        return f"OnvifHub({self._shown!r})"
