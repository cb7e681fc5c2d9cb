"""`metadata_stream`: the ONVIF metadata track of a camera, one XML document at a time."""

from __future__ import annotations

from typing import Self

from .._lifecycle import AsyncResource
from ._settings import RtspSettings
from ._upstream import RtspUpstream

__all__ = ["MetadataStream", "metadata_stream"]


class MetadataStream(AsyncResource):
    """An async iterator of ONVIF metadata documents (bytes), each at most 1 MiB.

    Sets up only the ``application`` section whose rtpmap is
    ``vnd.onvif.metadata`` (`UnsupportedCapabilityError` when there is none).
    Connects on the first iteration; ends with the camera's typed errors;
    `aclose` (or leaving ``async with``) tears the session down.
    """

    def __init__(self, settings: RtspSettings) -> None:
        """No I/O until iterated."""
        self._upstream = RtspUpstream(settings, _media="metadata")
        self._started = False


    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if not self._started:
            self._started = True
            await self._upstream._open()
        packet = await self._upstream.__anext__()
        return packet.data

    async def aclose(self) -> None:
        """End the session; idempotent."""
        await self._upstream.aclose()


def metadata_stream(settings: RtspSettings) -> MetadataStream:
    """The ONVIF metadata documents of ``settings.url``; use with ``async with``/``async for``."""
    return MetadataStream(settings)
