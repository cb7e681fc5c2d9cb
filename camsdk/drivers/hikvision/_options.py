"""Options of the ``hikvision://`` camera and hub (URL query or `camsdk.open` keywords)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from camsdk.driver import DriverOptions

__all__ = ["HikvisionHubOptions", "HikvisionOptions"]


class HikvisionHubOptions(DriverOptions):
    """Options shared by a Hikvision camera and a Hikvision NVR/DVR hub."""

    https: bool = Field(default=False, description="talk to the device over HTTPS")
    auth: Literal["auto", "digest", "basic"] = Field(
        default="auto", description="auto: the scheme the device's challenge asks for"
    )
    rtsp_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="RTSP port to use instead of the one the device reports (port forwards)",
    )
    transport: Literal["tcp", "udp", "auto", "http"] = Field(
        default="tcp", description="RTSP transport of the streams"
    )
    heartbeat: float = Field(
        default=10.0, gt=0, le=300,
        description="seconds between the device's alert-stream heartbeats (videoloss inactive)",
    )
    heartbeats_missed: int = Field(
        default=3, ge=1, le=20,
        description="heartbeats without a byte after which the alert stream counts as dead",
    )
    event_timeout: float = Field(
        default=5.0, gt=0, le=600,
        description="seconds after the last 'active' of an event that never sends its end",
    )
    auth_cooldown: float = Field(
        default=60.0, ge=0, le=86400,
        description="seconds refused credentials are not sent to the device again",
    )

    def to_query(self, *, exclude: Iterable[str] = ()) -> dict[str, str]:
        """The options that differ from their defaults, as URL query text."""
        skip = set(exclude)
        out: dict[str, str] = {}
        for name, value in self.model_dump(exclude_defaults=True).items():
            if name in skip or value is None:
                continue
            out[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


class HikvisionOptions(HikvisionHubOptions):
    """Options of a ``hikvision://host[:port]/<channel>`` camera."""

    profile: Literal["main", "sub", "third"] | None = Field(
        default=None,
        description="default profile (else the one the URL's stream id names, else main)",
    )
