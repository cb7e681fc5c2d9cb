"""Helpers of the RTSP client tests: bounded reads and settings."""

from __future__ import annotations

from typing import Any

import anyio

from camsdk._media import MediaPacket
from camsdk._rtsp import RtspSettings

#: Short request deadline: local servers answer in milliseconds.
REQUEST_TIMEOUT = 3.0


def settings(url: str, **kwargs: Any) -> RtspSettings:
    """Settings for a local test server."""
    kwargs.setdefault("request_timeout", REQUEST_TIMEOUT)
    return RtspSettings(url, **kwargs)


async def take(upstream: Any, count: int, *, timeout: float = 5.0,
               kind: str | None = None) -> list[MediaPacket]:
    """The next ``count`` packets (of ``kind`` when given), within ``timeout`` seconds."""
    out: list[MediaPacket] = []
    with anyio.fail_after(timeout):
        async for packet in upstream:
            if kind is None or packet.kind == kind:
                out.append(packet)
                if len(out) >= count:
                    break
    return out
