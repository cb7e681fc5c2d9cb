"""Options of the ``tapo://`` camera (URL query or `camsdk.open` keywords).

The device's local API is logged in with ``credentials=`` (user ``admin``
and the TP-Link cloud password on current firmware). RTSP and ONVIF use the
*camera account* set up in the Tapo app (Advanced settings > Camera
account), which is another user and password: give it as the keyword
``stream_credentials=camsdk.Credentials(user, password)``, or as
``stream_user=<user>`` with ``stream_password_env=<VARIABLE>`` naming an
environment variable that holds the password. Neither form puts the secret
in a URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, field_validator

from camsdk.driver import Credentials, DriverOptions, Sha256Fingerprint

__all__ = ["TapoOptions"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class TapoOptions(DriverOptions):
    """Options of a ``tapo://host[:port]`` camera (port: the HTTPS API, 443 by default)."""

    stream_user: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="user name of the camera account (RTSP and ONVIF)",
    )
    stream_password_env: str | None = Field(
        default=None,
        description="name of the environment variable holding the camera account's password",
    )
    stream_credentials: Any = Field(
        default=None, exclude=True, repr=False,
        description="the camera account as camsdk.Credentials (keyword only, never in a URL)",
    )
    rtsp_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="RTSP port (default: the one the device reports, else 554)",
    )
    onvif_port: int = Field(
        default=2020, ge=1, le=65535, description="port of the device's ONVIF service (events)"
    )
    transport: Literal["tcp", "udp", "auto", "http"] = Field(
        default="tcp", description="RTSP transport of the streams"
    )
    events: bool = Field(
        default=True, description="subscribe to the device's ONVIF PullPoint for its detections"
    )
    privacy_poll: float = Field(
        default=5.0, ge=0.0, le=3600.0,
        description="seconds between privacy-mode checks while a stream runs (0: only when a "
        "stream opens or reconnects)",
    )
    tls: Literal["pin", "system"] = Field(
        default="pin",
        description="pin: trust exactly the device's self-signed certificate (trust on first "
        "use, or fingerprint=); system: verify it against the system's CAs",
    )
    fingerprint: Sha256Fingerprint | None = Field(
        default=None,
        description="SHA-256 fingerprint of the device certificate to pin (hex, colons allowed)",
    )
    pin_dir: str | None = Field(
        default=None,
        description="directory of a FileTokenStore keeping pinned fingerprints across restarts "
        "(default: this process only)",
    )
    pin_store: Any = Field(
        default=None, exclude=True,
        description="a camsdk.cloud TokenStore object (keyword only) for the pins, instead of "
        "pin_dir",
    )
    ptz_step: float = Field(
        default=30.0, gt=0.0, le=180.0,
        description="degrees of pan one move() at full speed turns (tilt: a third of it)",
    )

    @field_validator("stream_password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("stream_password_env names an environment variable (A-Z, 0-9, _)")
        return value

    @field_validator("stream_credentials")
    @classmethod
    def _credentials(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, Credentials):
            raise ValueError("stream_credentials must be camsdk.Credentials (keyword only)")
        return value

    @field_validator("pin_store")
    @classmethod
    def _store(cls, value: Any) -> Any:
        if value is not None and not all(
            hasattr(value, name) for name in ("load", "save", "delete")
        ):
            raise ValueError("pin_store must be a camsdk.cloud TokenStore")
        return value

    def to_query(self, *, exclude: Iterable[str] = ()) -> dict[str, str]:
        """The explicitly given options as query text, never the credentials or the store."""
        return super().to_query(exclude={*exclude, "stream_credentials", "pin_store"})
