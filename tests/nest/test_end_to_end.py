"""Nest end to end through the public API: login -> device list -> WebRTC stream -> recorded
clip -> event with its image."""

from __future__ import annotations

from pathlib import Path

import anyio
import av
import pytest

import camsdk
from camsdk import EventKind
from camsdk.cloud import FileTokenStore, login
from camsdk.testing import NestCloud

from .conftest import FAST
from .test_events import next_event

pytestmark = pytest.mark.anyio


async def test_login_then_list_stream_record_and_get_an_event_with_its_image(
    cloud: NestCloud, tmp_path: Path,
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    flow = await login("nest", account=cloud.project_id, store=store,
                       credentials=cloud.credentials, **cloud.options())
    assert flow.challenge is not None
    await flow.complete(cloud.consent(flow.challenge.authorization_url or ""))

    # Only the project and the store from now on: the OAuth client was stored at login.
    options = {**cloud.options(), "token_store": str(tmp_path / "tokens"), "config": FAST}
    with anyio.fail_after(60):
        async with camsdk.hub(cloud.hub_url, **options) as hub:
            listing = {c.name: c for c in await hub.listing()}
            assert set(listing) == {"Living Room Camera", "Front Door", "Garage"}
            garage_id = listing["Garage"].id
            cam = next(c for c in await hub.cameras() if c.id == garage_id)
            await cam.connect()
            assert cam.info.location == "Home / Garage"

            rec = await cam.record(tmp_path / "clip.mp4", 2.0)
            with av.open(str(rec.path)) as container:
                frames = sum(1 for _ in container.decode(video=0))
            assert rec.video_packets >= 20 and frames == rec.video_packets

            async with cam.events(kinds={EventKind.PERSON}) as events:
                cloud.start_event("Garage", "person")
                event = await next_event(events)
            snap = await cam.snapshot(source="device")
    assert event.kind is EventKind.PERSON
    assert snap.source == "event_image" and snap.captured_at == event.started_at
    assert cloud.commands["GenerateWebRtcStream"] == 1
    assert cloud.oauth.exchanges == 1
