"""Options of the ``http(s)://`` camera: from the URL query or `camsdk.open` keywords."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from camsdk.driver import DriverOptions

__all__ = ["HttpMode", "HttpOptions"]

HttpMode = Literal["auto", "still", "mjpeg", "hls"]

_MIB = 1024 * 1024
_SIZE_RE = re.compile(r"^\s*(?P<value>\d+)\s*(?P<unit>[kKmM]?)(?:i?[bB])?\s*$")
_UNITS = {"": 1, "k": 1024, "m": _MIB}


class HttpOptions(DriverOptions):
    """Options of an ``http(s)://`` camera (see ``docs/drivers/http.md``).

    These names are taken out of the URL query; every other query parameter
    (``?action=stream``) belongs to the device and stays in the URL.
    """

    mode: HttpMode = Field(
        default="auto",
        description="what the URL serves: auto (decided by the response), still, mjpeg or hls",
    )
    max_frame_bytes: int = Field(
        default=8 * _MIB,
        ge=1024,
        le=512 * _MIB,
        description="largest JPEG accepted (a still, or one MJPEG part); 512k, 8M and 8MiB work",
    )
    snapshot_url: str | None = Field(
        default=None,
        repr=False,  # may carry credentials
        description="a separate still URL, absolute (http/https) or a path on the camera's host",
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_text(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("max_frame_bytes", mode="before")
    @classmethod
    def _size_text(cls, value: object) -> object:
        # "8M" reads better in a URL than 8388608.
        if isinstance(value, str) and (match := _SIZE_RE.match(value)):
            return int(match["value"]) * _UNITS[match["unit"].lower()]
        return value

    @field_validator("snapshot_url")
    @classmethod
    def _snapshot_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        lowered = value.lower()
        if not (
            lowered.startswith(("http://", "https://"))
            or (value.startswith("/") and not value.startswith("//"))
        ):
            # The value is not echoed: it may hold a password.
            raise ValueError("must be an http(s):// URL or a path starting with /")
        return value
