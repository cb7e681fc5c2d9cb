"""Helpers of the gateway tests: a small site, the owner's and requesters' clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx

from camsdk.privacy import generate_signing_key
from camsdk.serve import Gateway, RequesterAuth, SiteConfig, create_app, hash_password
from camsdk.testing import wait_until

OWNER_PASSWORD = "correct horse battery staple"
# A cheap scrypt cost keeps logins fast in tests; the format and the check are the same.
OWNER_HASH = hash_password(OWNER_PASSWORD, n=2**10)
BASE = "http://127.0.0.1"
WAIT = 30.0


def site_config(tmp_path: Path, **changes: Any) -> SiteConfig:
    """A small site: two virtual cameras, an area, the owner's password hash."""
    data: dict[str, Any] = {
        "owner": {"password_hash": OWNER_HASH},
        "storage": {"data_dir": str(tmp_path / "data"), "segment_seconds": 1.0,
                    "checkpoint_every": 20},
        "cameras": [
            {"name": "porch", "url": "virtual://gw-porch?size=320x240&fps=15&gop=15",
             "record": True},
            {"name": "garden", "url": "virtual://gw-garden?size=320x240&fps=15&gop=15"},
        ],
        "areas": {"street": ["porch", "garden"]},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and value and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return SiteConfig.model_validate(data)




async def started(config: SiteConfig) -> Gateway:
    """A started gateway whose cameras are all online."""
    gw = await Gateway(config).start()
    try:
        with anyio.fail_after(WAIT):
            await wait_until(lambda: all(s.online for s in gw.inventory.slots.values()))
    except BaseException:
        await gw.aclose()
        raise
    return gw




class OwnerClient:
    """The owner's side: logged-in calls with the CSRF token."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    async def overview(self) -> dict[str, Any]:
        response = await self.get("/owner/api/overview")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def approve(self, request_id: str, **changes: Any) -> list[str]:
        """Approve as asked (cameras, window, mode), for an hour, with ``changes``."""
        asked = next(r for r in (await self.overview())["requests"]
                     if r["request_id"] == request_id)
        now = datetime.now(UTC)
        body = {"cameras": asked["cameras"], "mode": asked["body"]["mode"],
                "footage_from": asked["body"]["footage_from"],
                "footage_until": asked["body"]["footage_until"],
                "expires_at": (now + timedelta(hours=1)).isoformat(), **changes}
        response = await self.post(f"/owner/api/requests/{request_id}/approve", body)
        assert response.status_code == 200, response.text
        return response.json()["grant_ids"]  # type: ignore[no-any-return]


async def login(client: httpx.AsyncClient, password: str = OWNER_PASSWORD) -> httpx.Response:
    """POST the owner's password."""
    return await client.post("/owner/api/login", json={"password": password})




class Requester:
    """A requester with its own key, calling the API signed."""

    def __init__(self, gateway: Gateway, name: str) -> None:
        self.key = generate_signing_key()
        self.auth = RequesterAuth(self.key)
        self.principal = self.auth.principal
        self.name = name
        transport = httpx.ASGITransport(app=create_app(gateway), client=("127.0.0.2", 40001))
        self.client = httpx.AsyncClient(transport=transport, base_url=BASE, auth=self.auth)

    def request_body(self, **changes: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {"cameras": ["porch"], "mode": "live",
                "footage_from": (now - timedelta(minutes=5)).isoformat(),
                "footage_until": (now + timedelta(hours=1)).isoformat(),
                "purpose": "parcel theft investigation", "case_reference": "CASE-1",
                "contact": "desk@example.org", "requester_name": self.name, **changes}

    async def submit(self, **changes: Any) -> str:
        response = await self.client.post("/api/v1/requests", json=self.request_body(**changes))
        assert response.status_code == 201, response.text
        return response.json()["request_id"]  # type: ignore[no-any-return]
