"""The webhook sink, against respx-mocked endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
import respx
from pydantic import SecretStr

from camsdk._errors import ConfigurationError
from camsdk._models import CameraEvent, EventKind, Snapshot
from camsdk.sinks._webhook_payload import FrigateMapper
from camsdk.sinks.webhook import WebhookSink

pytestmark = pytest.mark.anyio

URL = "https://hooks.example.test/camsdk"
SECRET = "whsec-0123456789"


def event(i: int = 0) -> CameraEvent:
    return CameraEvent(kind=EventKind.PERSON, camera_id="cam", event_id=f"e{i}", score=0.9)


def sink(**options: object) -> WebhookSink:
    settings: dict[str, object] = {
        "secret": SecretStr(SECRET), "timeout": 2.0, "retries": 3, "backoff_base": 0.001,
        "backoff_cap": 0.002,
    }  # fmt: skip
    settings.update(options)
    return WebhookSink(URL, **settings)  # type: ignore[arg-type]


@respx.mock
async def test_body_is_event_json_signed_with_hmac_sha256() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    async with sink() as hook:
        assert await hook.deliver(event(7))
    request = route.calls.last.request
    body = request.content
    assert json.loads(body)["event_id"] == "e7"
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert request.headers["X-Camsdk-Signature"] == expected
    assert WebhookSink.verify(SECRET, body, request.headers["X-Camsdk-Signature"])
    assert not WebhookSink.verify("wrong", body, request.headers["X-Camsdk-Signature"])
    assert request.headers["X-Camsdk-Event-Id"] == "e7"
    assert request.headers["Content-Type"] == "application/json"


@respx.mock
async def test_server_errors_are_retried_until_accepted() -> None:
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(500), httpx.Response(200)]
    )
    async with sink() as hook:
        assert await hook.deliver(event())
    assert route.call_count == 3


@respx.mock
async def test_network_errors_are_retried() -> None:
    route = respx.post(URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200)]
    )
    async with sink() as hook:
        assert await hook.deliver(event())
    assert route.call_count == 3


@respx.mock
async def test_client_errors_are_final() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(400))
    async with sink() as hook:
        assert not await hook.deliver(event())
    assert route.call_count == 1


@respx.mock
async def test_redirects_are_not_followed() -> None:
    respx.post(URL).mock(
        return_value=httpx.Response(307, headers={"Location": "https://elsewhere.test/"})
    )
    other = respx.post("https://elsewhere.test/").mock(return_value=httpx.Response(200))
    async with sink() as hook:
        assert not await hook.deliver(event())
    assert other.call_count == 0


@respx.mock
async def test_retries_are_bounded() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(502))
    async with sink(retries=2) as hook:
        assert not await hook.deliver(event())
    assert route.call_count == 3


@respx.mock
async def test_queued_events_are_delivered_in_order_and_counted() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200))
    async with sink() as hook:
        for i in range(5):
            hook.send(event(i))
        with anyio.fail_after(5):
            await hook.flush()
        assert hook.delivered == 5 and hook.failed == 0
    assert [json.loads(c.request.content)["event_id"] for c in route.calls] == [
        f"e{i}" for i in range(5)
    ]


async def test_queue_is_bounded_and_drops_oldest() -> None:
    hook = sink(queue_size=3)  # not started: nothing drains the queue
    for i in range(10):
        hook.send(event(i))
    assert hook.dropped == 7 and len(hook.queue) == 3


@respx.mock
async def test_secret_never_reaches_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="camsdk")
    respx.post(URL).mock(side_effect=httpx.ConnectError(f"failed with {SECRET}"))
    async with sink(retries=1) as hook:
        assert not await hook.deliver(event())
    assert "giving up" in caplog.text
    assert SECRET not in caplog.text and SECRET not in repr(hook)


def test_only_http_urls_and_a_secret_are_accepted() -> None:
    with pytest.raises(ConfigurationError):
        WebhookSink("ftp://example.test/x", secret=SECRET)
    with pytest.raises(ConfigurationError):
        WebhookSink(URL, secret="")


# -- snapshot, clip, formats -------------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


def snapshot(width: int = 640, height: int = 480) -> Snapshot:
    taken = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    return Snapshot(jpeg=JPEG, width=width, height=height, captured_at=taken, source="stream")


@respx.mock
async def test_event_snapshot_is_sent_as_base64_json_and_covered_by_the_signature() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    with_picture = event(1).model_copy(update={"snapshot": snapshot()})
    async with sink() as hook:
        assert await hook.deliver(with_picture)
    request = route.calls.last.request
    body = json.loads(request.content)
    picture = body["snapshot"]
    assert base64.b64decode(picture["jpeg_base64"]) == JPEG
    assert (picture["content_type"], picture["width"], picture["height"]) == (
        "image/jpeg", 640, 480,
    )  # fmt: skip
    assert picture["captured_at"].startswith("2026-05-01T12:00:00")
    assert WebhookSink.verify(SECRET, request.content, request.headers["X-Camsdk-Signature"])
    tampered = request.content.replace(picture["jpeg_base64"].encode()[:8], b"AAAAAAAA")
    assert not WebhookSink.verify(SECRET, tampered, request.headers["X-Camsdk-Signature"])


@respx.mock
async def test_with_snapshot_false_leaves_the_picture_out() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    async with sink(with_snapshot=False) as hook:
        assert await hook.deliver(event(1).model_copy(update={"snapshot": snapshot()}))
    assert "snapshot" not in json.loads(route.calls.last.request.content)


@respx.mock
async def test_clip_reference_in_the_event_extra_is_sent() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    clipped = CameraEvent(
        kind=EventKind.PERSON, camera_id="cam", event_id="e1", active=False,
        extra={"clip": "footage/cam/2026-05-01/clip-e1.mp4"},
    )  # fmt: skip
    async with sink() as hook:
        assert await hook.deliver(clipped)
        assert await hook.deliver(event(2))
    with_clip, without = (json.loads(c.request.content) for c in route.calls)
    assert with_clip["clip"] == "footage/cam/2026-05-01/clip-e1.mp4"
    assert "clip" not in without and "snapshot" not in without


@respx.mock
async def test_a_virtual_cameras_event_snapshot_reaches_the_webhook() -> None:
    import camsdk
    from camsdk.testing import virtual_device

    route = respx.post(URL).mock(return_value=httpx.Response(204))
    async with camsdk.open("virtual://hooksnap?size=160x120&fps=30&gop=30") as cam:
        async with sink() as hook, cam.events(with_snapshot=True) as events:
            virtual_device("hooksnap").inject_event(EventKind.DOORBELL)
            with anyio.fail_after(10):
                hook.send(await anext(events))
                await hook.flush()
    body = json.loads(route.calls.last.request.content)
    assert body["kind"] == "doorbell"
    assert base64.b64decode(body["snapshot"]["jpeg_base64"])[:2] == b"\xff\xd8"
    assert body["snapshot"]["width"] == 160


def person(**fields: Any) -> CameraEvent:
    base: dict[str, Any] = {"kind": EventKind.PERSON, "camera_id": "front", "event_id": "p1"}
    return CameraEvent(**(base | fields))


@respx.mock
async def test_frigate_format_sends_new_update_end_for_one_event() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    start = person(score=0.6, zone="yard", region=(0.25, 0.5, 0.25, 0.25), snapshot=snapshot())
    update = person(score=0.9, zone="driveway", started_at=start.started_at)
    end = person(
        active=False, started_at=start.started_at,
        ended_at=start.started_at + timedelta(seconds=7), extra={"clip": "clips/p1.mp4"},
    )  # fmt: skip
    async with sink(format="frigate") as hook:
        for item in (start, update, end):
            assert await hook.deliver(item)
    new, upd, fin = (json.loads(c.request.content) for c in route.calls)
    assert [m["type"] for m in (new, upd, fin)] == ["new", "update", "end"]
    assert route.calls.last.request.headers["X-Camsdk-Format"] == "frigate"
    # before is the previous after (new: itself)
    assert new["before"] == new["after"]
    assert upd["before"] == new["after"] and fin["before"] == upd["after"]
    first, second, last = new["after"], upd["after"], fin["after"]
    assert {first["id"], second["id"], last["id"]} == {"p1"}
    assert first["camera"] == "front" and first["label"] == "person"
    assert first["start_time"] == second["start_time"] == start.started_at.timestamp()
    assert first["end_time"] is None and second["end_time"] is None
    assert last["end_time"] == start.started_at.timestamp() + 7
    assert (first["score"], second["score"], second["top_score"]) == (0.6, 0.9, 0.9)
    assert first["current_zones"] == ["yard"] and second["current_zones"] == ["driveway"]
    assert last["current_zones"] == [] and last["entered_zones"] == ["yard", "driveway"]
    # The region (normalised x, y, w, h) in pixels of the 640x480 snapshot.
    assert first["box"] == [160, 240, 320, 360] and first["area"] == 160 * 120
    assert first["has_snapshot"] and last["has_snapshot"] and not second["has_clip"]
    assert last["has_clip"] and fin["clip"] == "clips/p1.mp4"
    assert base64.b64decode(new["snapshot"]["jpeg_base64"]) == JPEG and "snapshot" not in upd
    for key in ("false_positive", "stationary", "sub_label", "thumbnail", "frame_time"):
        assert key in first


@pytest.mark.parametrize(
    ("kind", "label", "score"),
    [
        (EventKind.VEHICLE, "car", 0.8),
        (EventKind.FACE_DETECTED, "face", 0.7),
        (EventKind.DOORBELL, "doorbell", None),
        (EventKind.MOTION, "motion", None),
    ],
)
def test_frigate_labels_and_scores_of_kinds(
    kind: EventKind, label: str, score: float | None
) -> None:
    mapper = FrigateMapper()
    after = mapper.payload(CameraEvent(kind=kind, event_id="x", score=score))["after"]
    assert after["label"] == label
    assert after["score"] == (1.0 if score is None else score)  # a plain trigger is certain
    assert after["box"] is None  # no region: no box


def test_frigate_mapper_forgets_ended_and_bounds_open_activities() -> None:
    mapper = FrigateMapper(max_open=3)
    for i in range(10):
        mapper.payload(person(event_id=f"p{i}"))
    assert len(mapper) == 3
    # The oldest were forgotten: their next event starts over as "new".
    assert mapper.payload(person(event_id="p0"))["type"] == "new"
    assert mapper.payload(person(event_id="p9"))["type"] == "update"
    assert mapper.payload(person(event_id="p9", active=False))["type"] == "end"
    assert mapper.payload(person(event_id="p9"))["type"] == "new"


def test_only_known_formats_are_accepted() -> None:
    with pytest.raises(ConfigurationError, match="format"):
        WebhookSink(URL, secret=SECRET, format="xml")  # type: ignore[arg-type]
