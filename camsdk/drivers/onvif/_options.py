"""Options of the ``onvif://`` camera and hub (URL query or `camsdk.open` keywords)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field, field_validator

from camsdk.driver import DriverOptions

__all__ = ["OnvifHubOptions", "OnvifOptions"]


class OnvifHubOptions(DriverOptions):
    """Options shared by an ONVIF camera and an ONVIF NVR hub."""

    path: str = Field(
        default="/onvif/device_service", description="path of the device service on the host"
    )
    https: bool = Field(default=False, description="talk to the device over HTTPS")
    auth: Literal["auto", "wsse", "digest", "both"] = Field(
        default="auto",
        description="auto: WS-Security, switching to HTTP Digest when the device answers 401",
    )
    media: Literal["auto", "1", "2"] = Field(
        default="auto", description="media service version; auto prefers Media2 when offered"
    )
    pull_timeout: float = Field(
        default=10.0, gt=0, le=300, description="seconds one PullMessages long poll may wait"
    )
    rtsp_port: int | None = Field(
        default=None, ge=1, le=65535, description="port RTSP is forwarded to (devices behind NAT)"
    )
    move_timeout: float | None = Field(
        default=None, gt=0, description="device-side timeout of continuous PTZ moves, seconds"
    )
    transport: Literal["tcp", "udp", "auto", "http"] = Field(
        default="tcp", description="RTSP transport of the streams (TCP interleaving crosses NAT)"
    )
    client: Literal["camsdk", "ffmpeg"] = Field(
        default="camsdk", description="RTSP client of the streams: camsdk's, or FFmpeg's"
    )

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or "://" in value or any(c in value for c in "\r\n #"):
            raise ValueError("path must be an absolute URL path such as /onvif/device_service")
        return value

    def to_query(self, *, exclude: Iterable[str] = ()) -> dict[str, str]:
        """The options that differ from their defaults, as URL query text."""
        out = {}
        skip = set(exclude)
        for name, value in self.model_dump(exclude_defaults=True).items():
            if name in skip:
                continue
            out[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


class OnvifOptions(OnvifHubOptions):
    """Options of an ``onvif://host[:port]`` camera."""

    events: Literal["pullpoint", "metadata"] = Field(
        default="pullpoint",
        description="where events come from: a PullPoint subscription, or the stream's "
        "in-band ONVIF metadata track",
    )
    backchannel: bool = Field(
        default=False, description="ask the stream for the ONVIF audio backchannel (talk)"
    )

    profile: str | None = Field(
        default=None, description="default profile, by name or token (else the device's first)"
    )
    source: str | None = Field(
        default=None, description="video source token: only this channel of a multi-channel device"
    )
