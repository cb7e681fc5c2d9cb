"""The owner's control, as an integrator meets it: through `camsdk.open` on virtual cameras.

Every egress (snapshot, stream open, packets, frames, record, event
subscription, PTZ) is decided by the camera's policy and audited, allowed or
not, before anything is fetched or handed out; live iterators stop at the
next item once their grant is revoked or expires; privacy masks black out
frames and snapshots, and raw packets are refused where masks apply unless
the grant says ``raw_media``. The virtual device's counters show what reached
the camera.
"""

from __future__ import annotations

import inspect
import io
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import av
import numpy as np
import pytest

import camsdk
import camsdk._access
from camsdk import AccessDeniedError, Action, MediaPacket, Principal, VideoFrame
from camsdk.drivers.virtual import VirtualDevice, virtual_device
from camsdk.privacy import (
    CallbackAuditSink,
    Grant,
    GrantPolicy,
    MemoryAuditSink,
    PrivacyMask,
    RevocationList,
)

from ._helpers import T0, FakeClock

pytestmark = pytest.mark.anyio

FAST = "size=160x120&fps=30&gop=15"
WAIT = 10.0
NEIGHBOUR = Principal("neighbour")
PURPOSE = "security"
TOP_LEFT = PrivacyMask.rectangle(0.0, 0.0, 0.5, 0.5, label="neighbour's window")
BOTTOM_RIGHT = PrivacyMask.rectangle(0.5, 0.5, 1.0, 1.0, label="street")
# Pixel boxes (rows, columns) of the masks at 160x120, with a margin for JPEG ringing.
TOP_LEFT_BOX = (slice(4, 56), slice(4, 76))
BOTTOM_RIGHT_BOX = (slice(64, 116), slice(84, 156))
TOP_RIGHT_BOX = (slice(4, 56), slice(84, 156))


def cam_url(name: str) -> str:
    return f"virtual://{name}?{FAST}"


def grant_for(name: str, *actions: Action, **fields: Any) -> Grant:
    """A grant for the neighbour on camera ``name``, for ``PURPOSE``, valid for an hour."""
    values: dict[str, Any] = {
        "principal": NEIGHBOUR.id,
        "cameras": {f"virtual:{name}"},
        "actions": set(actions),
        "purpose": PURPOSE,
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
    }
    values.update(fields)
    return Grant(**values)


def open_as_neighbour(
    name: str, *grants: Grant, audit: Any = None, policy: GrantPolicy | None = None, **kw: Any
) -> camsdk.Camera:
    return camsdk.open(
        cam_url(name),
        principal=NEIGHBOUR,
        policy=policy if policy is not None else GrantPolicy(grants),
        audit=audit if audit is not None else MemoryAuditSink(),
        **kw,
    )


def access_records(sink: MemoryAuditSink, action: Action) -> list[dict[str, Any]]:
    return [
        r for r in sink.records if r.get("event") == "access" and r.get("action") == action.value
    ]


def end_records(sink: MemoryAuditSink, action: Action) -> list[dict[str, Any]]:
    return [
        r
        for r in sink.records
        if r.get("event") == "egress.end" and r.get("action") == action.value
    ]


def pixels(frame: VideoFrame) -> np.ndarray[Any, Any]:
    return frame.to_ndarray()


def jpeg_pixels(jpeg: bytes) -> np.ndarray[Any, Any]:
    with av.open(io.BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def is_black(region: np.ndarray[Any, Any]) -> bool:
    return int(region.max()) == 0


def is_dark(region: np.ndarray[Any, Any]) -> bool:
    """Black as far as JPEG allows: a dim ringing at most."""
    return float(region.mean()) < 4 and int(region.max()) < 40


def has_picture(region: np.ndarray[Any, Any]) -> bool:
    return float(region.mean()) > 20


async def first_frame(cam: camsdk.Camera) -> np.ndarray[Any, Any]:
    async with cam.stream(purpose=PURPOSE) as stream, stream.frames(format="rgb24") as frames:
        async for item in frames:
            if isinstance(item, VideoFrame):
                return pixels(item)
    raise AssertionError("the stream ended before a frame")


# -- the egress kinds -------------------------------------------------------------------

Egress = Callable[[camsdk.Camera, Path], Awaitable[None]]


async def take_snapshot(cam: camsdk.Camera, tmp: Path) -> None:
    await cam.snapshot(purpose=PURPOSE)


async def open_stream(cam: camsdk.Camera, tmp: Path) -> None:
    async with cam.stream(purpose=PURPOSE):
        pass


async def read_packet(cam: camsdk.Camera, tmp: Path) -> None:
    async with cam.stream(purpose=PURPOSE) as stream, stream.packets() as packets:
        await packets.__anext__()


async def read_frame(cam: camsdk.Camera, tmp: Path) -> None:
    async with cam.stream(purpose=PURPOSE) as stream, stream.frames() as frames:
        await frames.__anext__()


async def record_clip(cam: camsdk.Camera, tmp: Path) -> None:
    await cam.record(tmp / "clip.mp4", duration=0.1, purpose=PURPOSE)


async def subscribe_events(cam: camsdk.Camera, tmp: Path) -> None:
    async with cam.events(purpose=PURPOSE):
        pass


async def move_ptz(cam: camsdk.Camera, tmp: Path) -> None:
    await cam.ptz.move(pan=0.5, purpose=PURPOSE)


EGRESS: dict[Action, Egress] = {
    Action.SNAPSHOT: take_snapshot,
    Action.STREAM_OPEN: open_stream,
    Action.PACKETS: read_packet,
    Action.FRAMES: read_frame,
    Action.RECORD: record_clip,
    Action.EVENTS_SUBSCRIBE: subscribe_events,
    Action.PTZ: move_ptz,
}
#: What else an egress needs granted before it gets to ask for itself.
PREREQUISITES: dict[Action, tuple[Action, ...]] = {
    Action.PACKETS: (Action.STREAM_OPEN,),
    Action.FRAMES: (Action.STREAM_OPEN,),
}
#: Egress kinds asked for before anything is fetched from the camera.
FIRST_CONTACT = [
    Action.SNAPSHOT,
    Action.STREAM_OPEN,
    Action.RECORD,
    Action.EVENTS_SUBSCRIBE,
    Action.PTZ,
]


def counters(device: VirtualDevice) -> tuple[int, int, int, Any]:
    return (device.streams_opened, device.packets_sent, device.listeners, device.ptz_status())


# -- denial -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", FIRST_CONTACT, ids=lambda a: a.value)
async def test_a_principal_without_a_grant_is_denied_and_nothing_is_fetched(
    action: Action, tmp_path: Path
) -> None:
    name = f"deny-{action.value.replace('.', '-')}"
    device = virtual_device(name)
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name) as cam:
            before = counters(device)
            with pytest.raises(AccessDeniedError) as info:
                await EGRESS[action](cam, tmp_path)
            assert counters(device) == before == (0, 0, 0, before[3])
    assert "no grant" in info.value.reason
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("action", [Action.PACKETS, Action.FRAMES], ids=lambda a: a.value)
async def test_an_open_stream_does_not_grant_packets_or_frames(
    action: Action, tmp_path: Path
) -> None:
    name = f"only-open-{action.value}"
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, grant_for(name, Action.STREAM_OPEN)) as cam:
            with pytest.raises(AccessDeniedError, match=action.value):
                await EGRESS[action](cam, tmp_path)


# -- audit ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(EGRESS), ids=lambda a: a.value)
async def test_an_allowed_egress_is_audited_with_its_action(
    action: Action, tmp_path: Path
) -> None:
    name = f"audit-ok-{action.value.replace('.', '-')}"
    grant = grant_for(name, action, *PREREQUISITES.get(action, ()))
    sink = MemoryAuditSink()
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, grant, audit=sink) as cam:
            await EGRESS[action](cam, tmp_path)
    [record] = access_records(sink, action)
    assert record["allowed"] is True
    assert record["principal"] == NEIGHBOUR.id
    assert record["camera_id"] == f"virtual:{name}"
    assert record["purpose"] == PURPOSE
    assert record["grant_id"] == grant.grant_id


@pytest.mark.parametrize("action", list(EGRESS), ids=lambda a: a.value)
async def test_a_denied_egress_is_audited_with_its_action(action: Action, tmp_path: Path) -> None:
    name = f"audit-no-{action.value.replace('.', '-')}"
    prerequisites = PREREQUISITES.get(action, ())
    grants = [grant_for(name, *prerequisites)] if prerequisites else []
    sink = MemoryAuditSink()
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, *grants, audit=sink) as cam:
            with pytest.raises(AccessDeniedError):
                await EGRESS[action](cam, tmp_path)
    [record] = access_records(sink, action)
    assert record["allowed"] is False
    assert record["principal"] == NEIGHBOUR.id
    assert record["reason"]


async def test_the_owner_is_audited_too() -> None:
    sink = MemoryAuditSink()
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("audit-owner"), audit=sink) as cam:
            await cam.snapshot()
    [record] = access_records(sink, Action.SNAPSHOT)
    assert (record["principal"], record["allowed"]) == ("owner", True)


class Witness:
    """An audit sink that notes, at each write, what the camera and the caller had by then."""

    def __init__(self, device: VirtualDevice) -> None:
        self.device = device
        self.received = 0
        self.seen: dict[str, dict[str, int]] = {}
        self.sink = CallbackAuditSink(self._note)

    def _note(self, record: dict[str, Any]) -> None:
        if record["event"] == "access":
            self.seen[record["action"]] = {
                "streams_opened": self.device.streams_opened,
                "packets_sent": self.device.packets_sent,
                "received": self.received,
            }


async def test_stream_open_is_audited_before_the_camera_sends_anything() -> None:
    device = virtual_device("before-open")
    witness = Witness(device)
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("before-open"), audit=witness.sink) as cam:
            async with cam.stream():
                assert device.streams_opened == 1
    assert witness.seen["stream.open"] == {"streams_opened": 0, "packets_sent": 0, "received": 0}


async def test_a_snapshot_is_audited_before_the_camera_sends_anything() -> None:
    device = virtual_device("before-snap")
    witness = Witness(device)
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("before-snap"), audit=witness.sink) as cam:
            snap = await cam.snapshot()
    assert snap.jpeg
    assert witness.seen["snapshot"]["streams_opened"] == 0
    assert witness.seen["snapshot"]["packets_sent"] == 0


@pytest.mark.parametrize("action", [Action.PACKETS, Action.FRAMES], ids=lambda a: a.value)
async def test_an_iterator_is_audited_before_its_first_item(action: Action) -> None:
    name = f"before-{action.value}"
    witness = Witness(virtual_device(name))
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url(name), audit=witness.sink) as cam, cam.stream() as s:
            items = s.packets() if action is Action.PACKETS else s.frames()
            async with items:
                await items.__anext__()
                witness.received += 1
    assert witness.seen[action.value]["received"] == 0


@pytest.mark.parametrize("action", [Action.PACKETS, Action.FRAMES], ids=lambda a: a.value)
async def test_closing_an_iterator_writes_egress_end_with_its_counts(action: Action) -> None:
    sink = MemoryAuditSink()
    name = f"end-{action.value}"
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url(name), audit=sink) as cam, cam.stream() as stream:
            items = stream.packets() if action is Action.PACKETS else stream.frames()
            got: list[Any] = []
            async with items:
                async for item in items:
                    if isinstance(item, MediaPacket | VideoFrame):
                        got.append(item)
                    if len(got) == 5:
                        break
                assert not end_records(sink, action), "written only when the iterator closes"
    [end] = end_records(sink, action)
    assert end["principal"] == "owner"
    if action is Action.PACKETS:
        assert end["packets"] == 5
        assert end["bytes"] == sum(p.size for p in got)
    else:
        assert end["frames"] == 5
    assert end["duration"] >= 0


def failing_sink() -> CallbackAuditSink:
    def refuse(record: dict[str, Any]) -> None:
        raise OSError("disk full")

    return CallbackAuditSink(refuse)


@pytest.mark.parametrize("action", FIRST_CONTACT, ids=lambda a: a.value)
async def test_a_failing_audit_sink_fails_closed(action: Action, tmp_path: Path) -> None:
    name = f"fail-closed-{action.value.replace('.', '-')}"
    device = virtual_device(name)
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url(name), audit=failing_sink()) as cam:
            before = counters(device)
            with pytest.raises(AccessDeniedError) as info:
                await EGRESS[action](cam, tmp_path)
            assert counters(device) == before
    assert "audit" in info.value.reason
    assert device.streams_opened == device.packets_sent == 0
    assert not list(tmp_path.iterdir())


# -- revocation and expiry --------------------------------------------------------------


def iterate(stream: camsdk.MediaStream, kind: str) -> Any:
    return stream.packets() if kind == "packets" else stream.frames()


@pytest.mark.parametrize("kind", ["packets", "frames"])
async def test_revoking_a_grant_stops_a_live_iterator_at_the_next_item(kind: str) -> None:
    name = f"revoke-{kind}"
    grant = grant_for(name, Action.STREAM_OPEN, Action(kind))
    revocations = RevocationList()
    policy = GrantPolicy([grant], revocations=revocations)
    sink = MemoryAuditSink()
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, policy=policy, audit=sink) as cam:
            async with cam.stream(purpose=PURPOSE) as stream:
                items = iterate(stream, kind)
                for _ in range(3):
                    await items.__anext__()
                revocations.revoke(grant.grant_id)
                with pytest.raises(AccessDeniedError, match="revoked or has expired"):
                    await items.__anext__()
                with pytest.raises(StopAsyncIteration):
                    await items.__anext__()
                with pytest.raises(AccessDeniedError, match="revoked"):
                    stream.packets() if kind == "packets" else stream.frames()
    [end] = end_records(sink, Action(kind))
    assert end[kind] == 3


@pytest.fixture
def live_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A test clock for the policy *and* for the live checks of its decisions.

    `GrantPolicy` takes injected clocks, but a `Decision` checks its expiry
    against ``camsdk._access``'s ``time.monotonic``, so the clock goes there too.
    """
    fake = FakeClock()
    monkeypatch.setattr(camsdk._access, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


@pytest.mark.parametrize("kind", ["packets", "frames"])
async def test_an_expiring_grant_stops_a_live_iterator_at_the_next_item(
    kind: str, live_clock: FakeClock
) -> None:
    clock = live_clock
    name = f"expire-{kind}"
    grant = grant_for(
        name,
        Action.STREAM_OPEN,
        Action(kind),
        issued_at=T0 - timedelta(hours=1),
        expires_at=T0 + timedelta(minutes=5),
    )
    policy = GrantPolicy([grant], clock=clock.now, monotonic=clock.monotonic)
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, policy=policy) as cam:
            async with cam.stream(purpose=PURPOSE) as stream:
                items = iterate(stream, kind)
                for _ in range(3):
                    await items.__anext__()
                clock.advance(4 * 60)
                await items.__anext__()  # still inside the grant
                clock.advance(60)
                with pytest.raises(AccessDeniedError, match="revoked or has expired"):
                    await items.__anext__()
            with pytest.raises(AccessDeniedError, match="expired"):
                await open_stream(cam, Path())


# -- privacy masks ----------------------------------------------------------------------


async def test_the_scene_has_a_picture_where_the_masks_go() -> None:
    # Without masks the masked regions of the next tests are not black to begin with.
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("unmasked")) as cam:
            picture = await first_frame(cam)
            snap = jpeg_pixels((await cam.snapshot()).jpeg)
    for region in (TOP_LEFT_BOX, BOTTOM_RIGHT_BOX, TOP_RIGHT_BOX):
        assert has_picture(picture[region])
        assert has_picture(snap[region])


async def test_camera_masks_black_out_decoded_frames() -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("mask-frames"), masks=[TOP_LEFT]) as cam:
            picture = await first_frame(cam)
    assert is_black(picture[:60, :80])
    assert has_picture(picture[BOTTOM_RIGHT_BOX])


async def test_camera_masks_black_out_snapshots() -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("mask-snap"), masks=[TOP_LEFT]) as cam:
            snap = jpeg_pixels((await cam.snapshot()).jpeg)
    assert is_dark(snap[TOP_LEFT_BOX])
    assert has_picture(snap[BOTTOM_RIGHT_BOX])


async def test_grant_masks_apply_on_top_of_camera_masks() -> None:
    name = "mask-grant"
    grant = grant_for(
        name, Action.STREAM_OPEN, Action.FRAMES, Action.SNAPSHOT, masks=(BOTTOM_RIGHT,)
    )
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, grant, masks=[TOP_LEFT]) as cam:
            picture = await first_frame(cam)
            snap = jpeg_pixels((await cam.snapshot(purpose=PURPOSE)).jpeg)
    assert is_black(picture[:60, :80]) and is_black(picture[60:, 80:])
    assert has_picture(picture[TOP_RIGHT_BOX])
    assert is_dark(snap[TOP_LEFT_BOX]) and is_dark(snap[BOTTOM_RIGHT_BOX])
    assert has_picture(snap[TOP_RIGHT_BOX])


async def test_grant_masks_do_not_apply_to_the_owner() -> None:
    grant = grant_for("mask-owner", Action.SNAPSHOT, masks=(BOTTOM_RIGHT,))
    policy = GrantPolicy([grant])
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("mask-owner"), policy=policy, masks=[TOP_LEFT]) as cam:
            picture = await first_frame(cam)
    assert is_black(picture[:60, :80])
    assert has_picture(picture[BOTTOM_RIGHT_BOX])


@pytest.mark.parametrize("masks_from", ["camera", "grant"])
async def test_with_masks_packets_need_raw_media(masks_from: str) -> None:
    name = f"raw-packets-{masks_from}"
    grant = grant_for(
        name,
        Action.STREAM_OPEN,
        Action.PACKETS,
        masks=(BOTTOM_RIGHT,) if masks_from == "grant" else (),
    )
    camera_masks = [TOP_LEFT] if masks_from == "camera" else []
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, grant, masks=camera_masks) as cam:
            async with cam.stream(purpose=PURPOSE) as stream:
                with pytest.raises(AccessDeniedError) as info:
                    stream.packets()
    assert info.value.reason == "masks require raw_media"


async def test_with_masks_record_needs_raw_media(tmp_path: Path) -> None:
    name = "raw-record"
    device = virtual_device(name)
    grant = grant_for(name, Action.RECORD)
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, grant, masks=[TOP_LEFT]) as cam:
            with pytest.raises(AccessDeniedError) as info:
                await record_clip(cam, tmp_path)
    assert info.value.reason == "masks require raw_media"
    assert device.streams_opened == 0
    assert not list(tmp_path.iterdir())


async def test_with_masks_the_owner_needs_raw_media_for_packets_too() -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("raw-owner"), masks=[TOP_LEFT]) as cam:
            async with cam.stream() as stream:
                with pytest.raises(AccessDeniedError, match="raw"):
                    stream.packets()


async def test_a_raw_media_grant_lets_packets_and_recordings_out_despite_masks(
    tmp_path: Path,
) -> None:
    name = "raw-granted"
    grant = grant_for(name, Action.STREAM_OPEN, Action.PACKETS, Action.RECORD, Action.RAW_MEDIA)
    with anyio.fail_after(WAIT):
        async with open_as_neighbour(name, grant, masks=[TOP_LEFT]) as cam:
            async with cam.stream(purpose=PURPOSE) as stream, stream.packets() as packets:
                assert isinstance(await packets.__anext__(), MediaPacket)
            clip = await cam.record(tmp_path / "clip.mp4", duration=0.1, purpose=PURPOSE)
    assert clip.video_packets > 0


# -- TLS --------------------------------------------------------------------------------


async def test_disabling_tls_verification_logs_a_warning_and_is_audited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = MemoryAuditSink()
    caplog.set_level(logging.WARNING, logger="camsdk")
    with anyio.fail_after(WAIT):
        async with camsdk.open(
            cam_url("insecure"), audit=sink, config={"verify_tls": False}
        ) as cam:
            pass
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("TLS verification is disabled" in r.getMessage() for r in warnings)
    [record] = [r for r in sink.records if r["event"] == "tls.insecure"]
    assert record["camera_url"] == cam.url


async def test_tls_verification_is_on_by_default(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemoryAuditSink()
    caplog.set_level(logging.WARNING, logger="camsdk")
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("secure"), audit=sink) as cam:
            assert cam.config.verify_tls is True
    assert not [r for r in sink.records if r["event"] == "tls.insecure"]
    assert not [r for r in caplog.records if "TLS" in r.getMessage()]


# -- no way around the policy -----------------------------------------------------------

def test_egress_methods_take_no_argument_that_could_skip_the_policy() -> None:
    from camsdk import MediaStream, PTZControl, Speaker

    methods = [
        camsdk.Camera.snapshot,
        camsdk.Camera.stream,
        camsdk.Camera.record,
        camsdk.Camera.events,
        camsdk.Camera.talk,
        camsdk.Camera.call_extension,
        MediaStream.packets,
        MediaStream.frames,
        Speaker.send,
        Speaker.send_encoded,
        *(
            getattr(PTZControl, n)
            for n in ("move", "stop", "absolute", "relative", "goto_preset", "home")
        ),
    ]
    suspicious = re.compile(r"policy|audit|principal|grant|force|override|skip|unsafe|raw")
    for method in methods:
        params = inspect.signature(method).parameters
        assert not [p for p in params if suspicious.search(p)], method.__qualname__
