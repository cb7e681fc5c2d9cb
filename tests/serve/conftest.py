"""Fixtures of the gateway tests: a site with virtual cameras, the app, the owner, requesters.

- ``site``: a `SiteConfig` in a temporary data directory: two virtual cameras
  (``porch`` keeps footage, ``garden`` does not), an owner password, an area.
- ``gateway``: that site's `Gateway`, started, both cameras online.
- ``app_client``: an httpx client on the app through `httpx.ASGITransport`.
- ``owner``: ``app_client`` logged in as the owner (`OwnerClient` adds the CSRF token).
- ``requester`` / ``other_requester``: `Requester` helpers with their own Ed25519 keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from camsdk.serve import Gateway, SiteConfig, create_app

from ._helpers import BASE, OwnerClient, Requester, login, site_config, started


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    """The default test site."""
    return site_config(tmp_path)


@pytest.fixture
async def gateway(site: SiteConfig) -> AsyncIterator[Gateway]:
    """The default site's gateway, started."""
    gw = await started(site)
    try:
        yield gw
    finally:
        await gw.aclose()


@pytest.fixture
async def app_client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the gateway's app (no socket)."""
    transport = httpx.ASGITransport(app=create_app(gateway), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def owner(app_client: httpx.AsyncClient) -> OwnerClient:
    """The owner, logged in."""
    response = await login(app_client)
    assert response.status_code == 200, response.text
    return OwnerClient(app_client, response.json()["csrf"])


@pytest.fixture
async def requester(gateway: Gateway) -> AsyncIterator[Requester]:
    """A requester with a key of its own."""
    r = Requester(gateway, "Precinct 7")
    async with r.client:
        yield r


@pytest.fixture
async def other_requester(gateway: Gateway) -> AsyncIterator[Requester]:
    """Another requester (grants of the first must not work for it)."""
    r = Requester(gateway, "Someone else")
    async with r.client:
        yield r
