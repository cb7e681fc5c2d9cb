"""RTSP restream for NVR software: per-grant Digest logins, fed from the shared upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import camsdk
from camsdk import AuthenticationError, MediaPacket
from camsdk.serve import Gateway, create_app
from camsdk.testing import virtual_device

from ._helpers import BASE, WAIT, OwnerClient, Requester, login, site_config, started

pytestmark = pytest.mark.anyio


@pytest.fixture
async def restream(tmp_path: Path) -> AsyncIterator[tuple[Gateway, OwnerClient]]:
    gateway = await started(site_config(tmp_path, server={"rtsp_port": 0}))
    transport = httpx.ASGITransport(app=create_app(gateway), client=("127.0.0.1", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield gateway, OwnerClient(client, (await login(client)).json()["csrf"])
    finally:
        await gateway.aclose()


async def _login(owner: OwnerClient, requester: Requester, **approval: Any) -> dict[str, Any]:
    [grant] = await owner.approve(await requester.submit(), **approval)
    response = await requester.client.get(f"/api/v1/grants/{grant}/rtsp")
    assert response.status_code == 200, response.text
    return {"grant": grant, **response.json()}


async def _count(url: str, username: str, password: str, packets: int) -> tuple[int, str]:
    seen = 0
    credentials = camsdk.Credentials(username, password)
    with anyio.fail_after(WAIT):
        async with camsdk.open(url, credentials=credentials) as cam:
            async with cam.stream() as stream:
                codec = stream.info.codec
                async for item in stream.packets():
                    if isinstance(item, MediaPacket):
                        seen += 1
                        if seen >= packets:
                            break
    return seen, codec


async def test_an_nvr_reads_the_grants_camera_with_the_grants_login(
    restream: tuple[Gateway, OwnerClient],
) -> None:
    gateway, owner = restream
    requester = Requester(gateway, "Home NVR")
    async with requester.client:
        login_ = await _login(owner, requester)
        [url] = login_["urls"]
        assert url.endswith(f"/{login_['grant']}/porch")
        seen, codec = await _count(url, login_["username"], login_["password"], 30)
        assert (seen, codec) == (30, "h264")
        assert virtual_device("gw-porch").streams_opened == 1


async def test_a_wrong_password_or_another_grants_login_is_refused(
    restream: tuple[Gateway, OwnerClient],
) -> None:
    gateway, owner = restream
    first, second = Requester(gateway, "NVR one"), Requester(gateway, "NVR two")
    async with first.client, second.client:
        mine = await _login(owner, first)
        theirs = await _login(owner, second)
        with pytest.raises(AuthenticationError):
            await _count(mine["urls"][0], mine["username"], mine["password"] + "x", 1)
        with pytest.raises(AuthenticationError):
            await _count(mine["urls"][0], theirs["username"], theirs["password"], 1)


async def test_revoking_the_grant_ends_the_restream(
    restream: tuple[Gateway, OwnerClient],
) -> None:
    gateway, owner = restream
    requester = Requester(gateway, "NVR")
    async with requester.client:
        login_ = await _login(owner, requester)
        credentials = camsdk.Credentials(login_["username"], login_["password"])
        with anyio.fail_after(WAIT):
            async with camsdk.open(login_["urls"][0], credentials=credentials,
                                   config={"backoff_base": 0.1, "backoff_cap": 0.2}) as cam:
                async with cam.stream() as stream:
                    with pytest.raises(AuthenticationError):
                        async for item in stream.packets():
                            if isinstance(item, MediaPacket):
                                await owner.post(f"/owner/api/grants/{login_['grant']}/revoke")
        denied = [r for r in gateway.audit.records() if r.get("event") == "access"
                  and r.get("principal") == requester.principal and r.get("allowed") is False]
        assert denied and "revoked" in denied[-1]["reason"]


async def test_a_masked_grant_is_restreamed_masked(
    restream: tuple[Gateway, OwnerClient],
) -> None:
    gateway, owner = restream
    requester = Requester(gateway, "NVR")
    mask = {"points": [[0, 0], [1, 0], [1, 0.5], [0, 0.5]], "label": "top half"}
    async with requester.client:
        login_ = await _login(owner, requester, masks={"porch": [mask]})
        credentials = camsdk.Credentials(login_["username"], login_["password"])
        with anyio.fail_after(WAIT):
            async with camsdk.open(login_["urls"][0], credentials=credentials) as cam:
                async with cam.stream() as stream:
                    async for frame in stream.frames(format="gray"):
                        if isinstance(frame, camsdk.VideoFrame):
                            picture = frame.to_ndarray()
                            break
                    [session] = gateway.live.values()
        assert picture[:110].max() <= 24 and picture[130:].std() > 10
        assert (session.kind, session.transcoded) == ("rtsp", True)
