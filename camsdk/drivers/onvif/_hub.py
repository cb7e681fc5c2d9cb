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
    CameraConfig,
    CameraDriver,
    HubCamera,
    HubDriver,
    SessionSlot,
    hub_camera_url,
    own_camera_url,
)

from ._driver import OnvifDriver
from ._endpoint import OnvifEndpoint, connect_endpoint
from ._options import OnvifHubOptions, OnvifOptions

__all__ = ["OnvifHub"]


class OnvifHub(HubDriver[OnvifHubOptions]):
    """An ONVIF NVR: one camera per video source (``docs/drivers/onvif.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("onvif",)
    display_name: ClassVar[str] = "ONVIF NVR"
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Nothing to check before connecting (no I/O)."""
        self._slot: SessionSlot[OnvifEndpoint] = SessionSlot("hub", scheme="onvif",
                                                             url=self.shown)

    @property
    def endpoint(self) -> OnvifEndpoint:
        """The connected NVR."""
        return self._slot.get()

    async def connect(self) -> None:
        """Connect to the NVR once; its cameras share this session."""
        self._slot.check_open()
        self._slot.fill(
            await connect_endpoint(self.url, self.credentials, self.config, self.options))

    async def close(self) -> None:
        """Close the shared session. Idempotent."""
        endpoint = self._slot.close()
        if endpoint is not None:
            await endpoint.session.aclose()

    async def cameras(self) -> list[HubCamera]:
        """One camera per video source, with ``source=<token>`` in its URL."""
        endpoint = self.endpoint
        ident = endpoint.identity
        base = ident.scopes.name or ident.model or "ONVIF"
        cameras = []
        for index, token in enumerate(endpoint.video_sources(), start=1):
            profiles = [
                p.name or p.token
                for p in endpoint.profiles
                if token in (p.video_source, p.video_source_configuration)
            ]
            cameras.append(
                HubCamera(
                    id=f"{endpoint.base_id}/{token}",
                    name=f"{base} {index}",
                    url=hub_camera_url(self, "", ("source", token)),
                    extra={"video_source": token, "index": index, "profiles": profiles},
                )
            )
        return cameras

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """An `OnvifDriver` for one channel, sharing the hub's session (no I/O)."""
        endpoint = self.endpoint
        # The port is not compared: the channel is named by its video source.
        url = own_camera_url(
            self, camera, same_port=False,
            belongs=lambda url: url.options.get("source") in endpoint.video_sources(),
        )
        options = OnvifOptions.model_validate(url.options)
        driver = OnvifDriver(url=url, credentials=self.credentials, config=config, options=options)
        driver.share(endpoint)
        return driver
