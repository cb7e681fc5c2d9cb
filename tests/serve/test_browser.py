"""In a real browser (Debian's Chromium, headless, driven by Playwright): the owner logs in,
sees a request, approves it with a mask drawn on the snapshot; the requester's page plays
the live video, masked; the owner stops the session and the requester's video stops. An
unmasked view of a camera with audio plays its sound too.

Set ``CAMSDK_SCREENSHOTS=<dir>`` to keep the screenshots (the docs use them).
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import av
import httpx
import numpy as np
import pytest

from camsdk.serve import Gateway, SiteConfig, create_app
from camsdk.serve._app import running

from ._helpers import BASE, OWNER_PASSWORD, OwnerClient, Requester, login, site_config, started

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
                       " (apt-get install chromium)"),
]


def _gray(png: bytes) -> np.ndarray[Any, Any]:
    with av.open(io.BytesIO(png), format="png_pipe") as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="gray")  # type: ignore[no-any-return]


class Shots:
    """Keeps screenshots for the docs when ``CAMSDK_SCREENSHOTS`` names a directory."""

    def __init__(self) -> None:
        target = os.environ.get("CAMSDK_SCREENSHOTS")
        self.folder = Path(target) if target else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    async def take(self, page: Any, name: str) -> None:
        if self.folder is not None:
            await page.screenshot(path=str(self.folder / f"{name}.png"))


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_owner_approves_with_a_mask_requester_watches_owner_stops_it(
    site: SiteConfig, browser: Any
) -> None:
    # The gateway is closed inside the test: the thumbnails the page asks for open
    # stream sessions of their own, which must be gone when the test ends.
    gateway = await started(site)
    try:
        requester = Requester(gateway, "Precinct 7")
        async with requester.client:
            await _scenario(gateway, requester, browser)
    finally:
        await gateway.aclose()


async def _scenario(gateway: Gateway, requester: Requester, browser: Any) -> None:
    shots = Shots()
    request_id = await requester.submit(purpose="hit and run on the street",
                                        case_reference="2024-HR-0117",
                                        legal_basis="criminal investigation")
    async with running(gateway) as base:
        owner = await browser.new_page(viewport={"width": 1280, "height": 900})
        owner.set_default_timeout(TIMEOUT_MS)
        await owner.goto(base + "/")
        await owner.fill("#password", OWNER_PASSWORD)
        await owner.click("#login-button")
        await owner.wait_for_selector("#cameras img")
        await owner.wait_for_function(
            "() => [...document.querySelectorAll('#cameras img')].every(i => i.naturalWidth > 0)")
        await shots.take(owner, "cameras")

        await owner.click("button[data-tab=requests]")
        card = owner.locator(f".request[data-id='{request_id}']")
        await card.wait_for()
        assert "2024-HR-0117" in await card.inner_text()
        await shots.take(owner, "request")

        # Draw the left half as a mask on the current snapshot.
        await card.locator(".mask-button[data-camera=porch]").click()
        await owner.wait_for_function(
            "() => document.getElementById('mask-image').naturalWidth > 0")
        canvas = owner.locator("#mask-canvas")
        box = await canvas.bounding_box()
        assert box is not None
        for x, y in ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)):
            await canvas.click(position={"x": min(x * box["width"], box["width"] - 1),
                                         "y": min(y * box["height"], box["height"] - 1)})
        await shots.take(owner, "mask-editor")
        await owner.click("#mask-done")
        await card.locator(".approve-button").click()
        await owner.wait_for_selector("#flash:not(.hidden)")
        assert (await owner.inner_text("#flash")).startswith("Approved"), await owner.inner_text(
            "#flash")
        [grant] = [g for g in gateway.sharing.grants_of(requester.principal)]
        assert len(grant.masks) == 1

        live = await requester.client.post("/api/v1/live", json={"grant_id": grant.grant_id,
                                                                 "camera": "porch"})
        viewer = await browser.new_page(viewport={"width": 800, "height": 700})
        viewer.set_default_timeout(TIMEOUT_MS)
        await viewer.goto(base + live.json()["viewer_path"])
        await viewer.wait_for_function("() => window.viewerState && window.viewerState.state === "
                                       "'playing'")
        start = await viewer.evaluate("() => document.getElementById('video').currentTime")
        await viewer.wait_for_function(
            f"() => document.getElementById('video').currentTime > {start} + 1.0 && "
            "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames > 15")
        await shots.take(viewer, "viewer")
        picture = _gray(await viewer.locator("#video").screenshot())
        height, width = picture.shape
        left = picture[int(height * 0.1):int(height * 0.9), int(width * 0.05):int(width * 0.45)]
        right = picture[int(height * 0.1):int(height * 0.9), int(width * 0.55):int(width * 0.95)]
        assert left.max() <= 30, "the masked half of the picture is not black"
        assert right.std() > 10, "the unmasked half shows nothing"

        await owner.click("button[data-tab=sessions]")
        session = owner.locator(f".session[data-grant='{grant.grant_id}']")
        await session.wait_for()
        await shots.take(owner, "sessions")
        await session.locator(".stop-button").click()
        await viewer.wait_for_function("() => window.viewerState.state === 'ended'")
        assert "revoked" in await viewer.evaluate("() => window.viewerState.reason")
        assert await viewer.evaluate("() => document.getElementById('video').paused")
        await shots.take(viewer, "viewer-stopped")

        await owner.click("button[data-tab=audit]")
        await owner.wait_for_selector("#audit-status:has-text('verified')")
        await shots.take(owner, "audit")
        await owner.click("button[data-tab=report]")
        await owner.wait_for_selector(".total-approved strong:has-text('1')")
        await shots.take(owner, "report")
        with anyio.fail_after(10):
            await viewer.close()
            await owner.close()


async def test_an_unmasked_view_of_a_camera_with_audio_plays_its_sound(
    tmp_path: Path, browser: Any
) -> None:
    site = site_config(tmp_path, cameras=[
        {"name": "porch", "url": "virtual://gw-browser-sound?size=320x240&fps=15&gop=15&audio=1"}],
        areas={"street": ["porch"]})
    gateway = await started(site)
    try:
        requester = Requester(gateway, "Neighbour")
        async with requester.client:
            [grant] = await _approve_as_asked(gateway, await requester.submit())
            async with running(gateway) as base:
                live = await requester.client.post(
                    "/api/v1/live", json={"grant_id": grant, "camera": "porch"})
                viewer = await browser.new_page()
                viewer.set_default_timeout(TIMEOUT_MS)
                await viewer.goto(base + live.json()["viewer_path"])
                await viewer.wait_for_function(
                    "() => window.viewerState && window.viewerState.state === 'playing'")
                assert await viewer.evaluate("() => window.viewerState.audio")
                await viewer.click("#sound")  # the page's own "Sound on"
                # Chromium decoded the AAC fragments beside the video, and plays unmuted.
                await viewer.wait_for_function(
                    "() => { const v = document.getElementById('video');"
                    " return v.webkitAudioDecodedByteCount > 0 && !v.muted &&"
                    " v.getVideoPlaybackQuality().totalVideoFrames > 15; }")
                with anyio.fail_after(10):
                    await viewer.close()
    finally:
        await gateway.aclose()


async def _approve_as_asked(gateway: Gateway, request_id: str) -> list[str]:
    """The owner approves through the API, as the page would (no browser needed for that)."""
    transport = httpx.ASGITransport(app=create_app(gateway), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        csrf = (await login(client)).json()["csrf"]
        return await OwnerClient(client, csrf).approve(request_id)
