"""The driver of docs/writing-a-driver.md is a real one: it passes the conformance suite.

The example lives in ``docs/examples/acme_driver.py`` and is included in the
page verbatim; ``mypy --strict`` checks it with the package (see
pyproject.toml). Here it runs the whole conformance suite against a
simulated Acme camera: JSON identity over respx-mocked HTTP with Basic auth,
media from camsdk's `RtspServer` with the same credentials.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import camsdk
from camsdk import Credentials
from camsdk.testing import EncodedLoop, RtspServer, closed_port, generate_source
from camsdk.testing.conformance import CameraConformance, Hook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "examples"))

from acme_driver import AcmeDriver  # noqa: E402

USER, PASSWORD = "admin", "acme-Pa55"
HTTP_PORT = 8080


def test_the_page_includes_the_tested_file() -> None:
    page = (ROOT / "docs" / "writing-a-driver.md").read_text()
    assert '--8<-- "docs/examples/acme_driver.py"' in page


def _api_info(request: httpx.Request) -> httpx.Response:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if request.headers.get("authorization") != expected:
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="acme"'})
    return httpx.Response(200, json={"serial": "AC-0001", "model": "Acme 5"})


@pytest.fixture(scope="module")
def acme_loop() -> EncodedLoop:
    return generate_source(160, 120, fps=15, gop=15, seconds=1.0)


class TestAcmeDriverConformance(CameraConformance):
    @pytest.fixture(autouse=True)
    def registered(self) -> None:
        camsdk.register_driver("acme", AcmeDriver)

    @pytest.fixture
    async def server(self, acme_loop: EncodedLoop) -> AsyncIterator[RtspServer]:
        async with RtspServer(acme_loop, path="/live/main", username=USER,
                              password=PASSWORD) as server:
            yield server

    @pytest.fixture
    def camera_url(self, server: RtspServer) -> Iterator[str]:
        with respx.mock(assert_all_called=False) as router:
            router.get(f"http://127.0.0.1:{HTTP_PORT}/api/info").mock(side_effect=_api_info)
            yield f"acme://127.0.0.1?http_port={HTTP_PORT}&rtsp_port={server.port}"

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"credentials": Credentials(USER, PASSWORD),
                "config": {"backoff_base": 0.05, "backoff_cap": 0.2}}

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"acme://127.0.0.1?http_port={closed_port()}"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return {"credentials": Credentials(USER, "wrong")}

    @pytest.fixture
    def break_stream(self, server: RtspServer) -> Hook:
        async def restart() -> None:
            await server.restart(delay=0.1)

        return restart
