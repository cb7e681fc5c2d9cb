"""Options of the ``dahua://`` camera and hub (URL query or `camsdk.open` keywords)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from camsdk.driver import DriverOptions

__all__ = ["DahuaHubOptions", "DahuaOptions"]


class DahuaHubOptions(DriverOptions):
    """Options shared by a Dahua camera and a Dahua NVR/DVR hub."""

    https: bool = Field(default=False, description="talk to the device's web API over HTTPS")
    auth: Literal["auto", "digest", "basic"] = Field(
        default="auto",
        description="HTTP authentication: the device's own challenge, or forced (old firmware "
        "is Basic-only)",
    )
    rtsp_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="port RTSP is forwarded to (NAT); default: the device's own RTSP config",
    )
    transport: Literal["tcp", "udp", "auto", "http"] = Field(
        default="tcp", description="RTSP transport of the streams"
    )
    client: Literal["camsdk", "ffmpeg"] = Field(
        default="camsdk", description="RTSP client of the streams: camsdk's, or FFmpeg's"
    )
    events: Literal["auto", "cgi", "rpc2"] = Field(
        default="auto",
        description="event channel: the CGI attach stream, RPC2, or the CGI falling back to "
        "RPC2 where the device answers 404/501",
    )
    heartbeat: int = Field(
        default=5, ge=1, le=60, description="seconds between the device's event heartbeats"
    )
    heartbeat_misses: int = Field(
        default=3, ge=1, le=20,
        description="heartbeats missed in a row before the event connection counts as dead",
    )
    talk_codec: Literal["auto", "pcm_alaw", "pcm_mulaw"] = Field(
        default="auto",
        description="codec of two-way audio: the device's audio encode config, or forced",
    )


class DahuaOptions(DahuaHubOptions):
    """Options of a ``dahua://host[:port]/<channel>`` camera."""
