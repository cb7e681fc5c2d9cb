"""Shared helpers of the kit tests: a device HTTP client for an `HttpDevice`."""

from __future__ import annotations

from typing import Any

from camsdk.driver import CameraConfig, Credentials, DeviceHttpClient
from camsdk.testing import HttpDevice

FAST = CameraConfig(connect_timeout=2.0, request_timeout=2.0)


def client_for(device: HttpDevice, *, credentials: Credentials | None = None,
               **kwargs: Any) -> DeviceHttpClient:
    """A `DeviceHttpClient` for ``device`` as a driver would build it."""
    kwargs.setdefault("config", FAST)
    return DeviceHttpClient(base_url=device.url, scheme="acme", shown_url="acme://127.0.0.1",
                            credentials=credentials, **kwargs)
