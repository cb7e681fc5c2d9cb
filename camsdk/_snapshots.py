"""Snapshots made from the stream: the latest keyframe, or the picture at an event's moment.

The facade falls back to these when a device has no native snapshot (or it
failed). A keyframe that decodes with errors, or at another size than the
stream's, is never returned: the next one is awaited instead.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ._access import Action, Decision
from ._errors import CameraTimeoutError, StreamDecodeError, UnsupportedCapabilityError
from ._log import get_logger
from ._media import MediaPacket
from ._models import Capability, Snapshot

if TYPE_CHECKING:  # pragma: no cover
    from ._camera import Camera
    from ._device_care import RequestContext

__all__ = ["snapshot_at", "snapshot_from_stream"]

log = get_logger("camsdk.camera")


async def snapshot_from_stream(
    camera: Camera,
    profile: str | None,
    max_age: float | None,
    decision: Decision,
    *,
    timeout: float | None = None,
    request: RequestContext | None = None,
) -> Snapshot:
    """A JPEG of the latest keyframe no older than ``max_age`` (masks applied), in ``timeout``."""
    from ._pipeline._codec import decode_keyframe, encode_jpeg

    if Capability.STREAM not in camera.capabilities:
        raise UnsupportedCapabilityError(
            "camera has neither a native snapshot nor a stream", scheme=camera.scheme,
            url=camera.url,
        )
    if timeout is None:
        timeout = camera.config.snapshot_timeout
    session = camera._session(profile)
    camera._acquire(session, request or camera._request(Action.SNAPSHOT))
    mask_set = camera._gate.mask_set(decision)
    try:
        async with asyncio.timeout(timeout):
            info = await session.wait_ready(timeout)
            entry = session.keyframe
            if entry is None or (
                max_age is not None
                and (datetime.now(UTC) - entry.captured_at).total_seconds() > max_age
            ):
                entry = await session.next_keyframe(newer_than=entry.seq if entry else 0)
            while True:
                key = (entry.seq, id(mask_set))
                cached = session.snapshot_cache
                if cached is not None and cached[0] == key:
                    return cached[1]

                def render(pkt: MediaPacket = entry.packet) -> tuple[bytes, int, int]:
                    frame = decode_keyframe(info, pkt)
                    if mask_set is not None:
                        frame = mask_set.apply(frame, in_place=True)
                    return encode_jpeg(frame), frame.width, frame.height

                try:
                    jpeg, width, height = await asyncio.to_thread(render)
                except StreamDecodeError as exc:
                    log.debug("keyframe unusable for a snapshot (%s); waiting for next", exc)
                    entry = await session.next_keyframe(newer_than=entry.seq)
                    continue
                snap = Snapshot(
                    jpeg=jpeg, width=width, height=height, captured_at=entry.captured_at,
                    source="stream", camera_id=camera.id,
                )
                session.snapshot_cache = (key, snap)
                return snap
    except TimeoutError:
        raise CameraTimeoutError(
            f"no usable keyframe within {camera.config.snapshot_timeout:g} s of asking",
            scheme=camera.scheme, url=camera.url,
        ) from None
    finally:
        session.release()


async def snapshot_at(camera: Camera, when: datetime, purpose: str) -> Snapshot | None:
    """The picture at wall-clock time ``when``, decoded from the prebuffer.

    Returns ``None`` when no stream of this camera is running (nothing is
    buffered). Passes the access policy as a snapshot.
    """
    from ._pipeline._codec import decode_last, encode_jpeg

    session = camera._running_session()
    if session is None or session.info is None:
        return None
    decision = camera._authorize(Action.SNAPSHOT, purpose)
    # Packets carry monotonic arrival times; map the event's wall time onto them.
    at = time.monotonic() - (datetime.now(UTC) - when).total_seconds()
    buffered = [p for p in session.buffered(1e9) if p.received_at <= at + 0.05]
    starts = [i for i, p in enumerate(buffered) if p.kind == "video" and p.keyframe]
    if not starts:
        return None
    run = buffered[starts[-1]:]
    info = session.info
    mask_set = camera._gate.mask_set(decision)

    def render() -> tuple[bytes, int, int]:
        frame = decode_last(info, run)
        if mask_set is not None:
            frame = mask_set.apply(frame, in_place=True)
        return encode_jpeg(frame), frame.width, frame.height

    jpeg, width, height = await asyncio.to_thread(render)
    captured = when - timedelta(seconds=max(0.0, at - run[-1].received_at))
    camera._end(Action.SNAPSHOT, decision, items=1, nbytes=len(jpeg), purpose=purpose)
    return Snapshot(jpeg=jpeg, width=width, height=height, captured_at=captured,
                    source="stream", camera_id=camera.id)
