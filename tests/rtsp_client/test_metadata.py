"""ONVIF metadata track: each XML document arrives whole; oversized ones are dropped."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from camsdk._errors import UnsupportedCapabilityError
from camsdk._rtsp import metadata_stream
from camsdk.testing import EncodedLoop, RtspServer

from ._helpers import settings

pytestmark = pytest.mark.anyio

DOC = (b'<?xml version="1.0"?><tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema">'
       + b"<tt:Event>" + b"x" * 5000 + b"</tt:Event></tt:MetadataStream>")


async def test_documents_arrive_whole_and_in_order(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, metadata=True) as server:
        async with metadata_stream(settings(server.url)) as docs:
            first = asyncio.ensure_future(docs.__anext__())
            with anyio.fail_after(5):
                await server.wait_sessions(1)
            assert server.send_metadata(DOC) == 1
            assert server.send_metadata(b"x" * (1024 * 1024 + 1)) == 1  # too large
            assert server.send_metadata(b"<second/>") == 1
            with anyio.fail_after(5):
                assert await first == DOC
                assert await docs.__anext__() == b"<second/>"
        setups = [path for method, path in server.requests if method == "SETUP"]
        assert setups == ["/stream/trackID=1"]  # the metadata track alone


async def test_a_camera_without_metadata_says_so(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        stream = metadata_stream(settings(server.url))
        with pytest.raises(UnsupportedCapabilityError, match="metadata"):
            await stream.__anext__()
        await stream.aclose()
