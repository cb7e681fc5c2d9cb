"""A complete third-party driver, written against the public kit only.

Acme cameras (a fictional vendor) answer ``GET /api/info`` with JSON and
stream RTSP at ``/live/<profile>``. This file is included in
``docs/writing-a-driver.md``; the test suite type-checks it with
``mypy --strict`` and runs the driver conformance suite on it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from camsdk.driver import (
    CameraDriver,
    CameraInfo,
    Capability,
    ConfigurationError,
    DeviceHttpClient,
    DriverOptions,
    StreamProfile,
    StreamSource,
)

PROFILES = ("main", "sub")


class AcmeOptions(DriverOptions):
    """Options of ``acme://`` cameras, from the URL query or `camsdk.open` keywords."""

    http_port: int = Field(80, ge=1, le=65535, description="port of the camera's web API")
    rtsp_port: int = Field(554, ge=1, le=65535, description="port of its RTSP server")


class AcmeDriver(CameraDriver[AcmeOptions]):
    """Acme cameras: identity over JSON, streams over RTSP."""

    schemes: ClassVar[tuple[str, ...]] = ("acme",)
    display_name: ClassVar[str] = "Acme camera"
    declared_capabilities: ClassVar[Capability] = Capability.SNAPSHOT | Capability.STREAM
    requires: ClassVar[str] = "pip install camsdk-acme"

    def setup(self) -> None:
        """Prepare the HTTP client (no I/O: it connects on first use)."""
        base = f"http://{self.url.host}:{self.options.http_port}"
        self.http = DeviceHttpClient.for_driver(self, base_url=base)

    async def connect(self) -> CameraInfo:
        """Read the camera's identity; a wrong password is an AuthenticationError."""
        info = (await self.http.get("/api/info")).json()
        serial = str(info["serial"])
        return CameraInfo(
            id=f"acme:{serial}",
            vendor="Acme",
            model=str(info["model"]),
            serial=serial,
            profiles=tuple(StreamProfile(name=name) for name in PROFILES),
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.http.aclose()

    async def stream_source(self, profile: str) -> StreamSource:
        """The profile's RTSP URL; the credentials travel beside it, never in it."""
        if profile not in PROFILES:
            raise ConfigurationError(
                f"unknown profile {profile!r} (known: {', '.join(PROFILES)})",
                scheme=self.url.scheme, url=self.url.redacted(),
            )
        url = f"rtsp://{self.url.host}:{self.options.rtsp_port}/live/{profile}"
        return StreamSource(url=url, credentials=self.login())
