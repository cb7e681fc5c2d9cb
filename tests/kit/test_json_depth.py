"""`DeviceResponse.json()`: hostile nesting is a typed error in bounded time, never a crash."""

from __future__ import annotations

import anyio
import pytest

from camsdk.driver import CameraProtocolError
from camsdk.testing import HttpDevice, Response

from ._helpers import client_for

pytestmark = pytest.mark.anyio


async def _json_of(body: bytes, **kwargs: int) -> object:
    async with HttpDevice() as device, client_for(device) as client:
        device.route("GET", "/api", Response(200, body, content_type="application/json"))
        with anyio.fail_after(10):
            answer = await client.get("/api")
        return answer.json(**kwargs)


async def test_json_that_would_exhaust_the_parsers_recursion_is_a_protocol_error() -> None:
    with pytest.raises(CameraProtocolError, match="nested"):
        await _json_of(b"[" * 200_000 + b"]" * 200_000)


async def test_json_deeper_than_the_limit_is_a_protocol_error() -> None:
    with pytest.raises(CameraProtocolError, match="deeper than 64"):
        await _json_of(b'{"a":' * 65 + b"1" + b"}" * 65)


async def test_json_at_the_limit_is_read() -> None:
    assert await _json_of(b"[" * 64 + b"]" * 64) is not None


async def test_the_caller_can_lower_the_depth_limit() -> None:
    with pytest.raises(CameraProtocolError):
        await _json_of(b'[[["x"]]]', max_depth=2)


async def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = b'{"log": "' + b"[{" * 5000 + b'"}'
    assert await _json_of(body) == {"log": "[{" * 5000}


async def test_an_unclosed_nest_is_not_json() -> None:
    with pytest.raises(CameraProtocolError, match="did not answer JSON"):
        await _json_of(b"[" * 10)
