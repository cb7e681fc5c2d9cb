"""httpx, httpcore and websockets log through camsdk's scrubbing: no token reaches a handler."""

from __future__ import annotations

import logging

import anyio
import pytest

from camsdk.driver import register_secret
from camsdk.testing import HttpDevice, Response

from ._helpers import client_for

pytestmark = pytest.mark.anyio

TOKEN = "tok-4f9a1c77e2d0"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


async def test_a_token_in_a_query_never_reaches_the_httpx_logs(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    async with HttpDevice() as device, client_for(device) as client:
        device.route("GET", "/cgi-bin/api.cgi", Response(200, b"{}"))
        with anyio.fail_after(10):
            await client.get("/cgi-bin/api.cgi", params={"cmd": "GetMdState", "token": TOKEN})
    lines = [record.getMessage() for record in debug_logs.records]
    assert any(r.name == "httpx" and "api.cgi" in r.getMessage() for r in debug_logs.records)
    assert any(r.name.startswith("httpcore.") for r in debug_logs.records)
    assert [line for line in lines if TOKEN in line] == []


async def test_a_registered_secret_anywhere_in_a_url_is_scrubbed_from_the_httpx_logs(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    session = "sess-93be20aa61"
    register_secret(session)
    async with HttpDevice() as device, client_for(device) as client:
        device.route("GET", f"/s/{session}/info", Response(200, b"{}"))
        with anyio.fail_after(10):
            await client.get(f"/s/{session}/info")
    lines = [record.getMessage() for record in debug_logs.records if record.name == "httpx"]
    assert lines and not [line for line in lines if session in line]


def test_child_loggers_of_the_device_libraries_carry_the_filter() -> None:
    from camsdk._log import FOREIGN_LOGGERS, RedactingFilter

    for name in FOREIGN_LOGGERS:
        logger = logging.getLogger(name)
        assert any(isinstance(f, RedactingFilter) for f in logger.filters), name
