"""Options of the ``reolink://`` camera and hub (URL query or `camsdk.open` keywords)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from camsdk.driver import DriverOptions

__all__ = ["ReolinkHubOptions", "ReolinkOptions"]


class ReolinkHubOptions(DriverOptions):
    """Options shared by a Reolink camera and a Reolink NVR / Home Hub."""

    https: bool = Field(default=False, description="talk to the device's JSON API over HTTPS")
    rtsp_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="RTSP port to use instead of the device's own (a NAT port forward)",
    )
    transport: Literal["tcp", "udp", "auto", "http"] = Field(
        default="tcp", description="RTSP transport of the streams (TCP interleaving crosses NAT)"
    )
    poll_interval: float = Field(
        default=1.0, ge=0.05, le=60.0,
        description="seconds between GetMdState/GetAiState polls while events are watched",
    )
    onvif_events: bool = Field(
        default=True,
        description="use the device's ONVIF PullPoint notifications to poll at once on a change",
    )
    wakes_per_hour: int = Field(
        default=20, ge=0, le=3600, description="battery devices: wakes allowed per rolling hour"
    )
    awake_seconds_per_hour: float = Field(
        default=600.0, ge=0, le=3600,
        description="battery devices: seconds awake allowed per rolling hour",
    )
    awake_per_wake: float = Field(
        default=30.0, ge=1, le=3600,
        description="battery devices: seconds one wake is charged (the device stays up that long)",
    )


class ReolinkOptions(ReolinkHubOptions):
    """Options of a ``reolink://host[:port]/<channel>`` camera."""
