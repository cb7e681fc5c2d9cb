"""Stills and recordings from Ring's cloud: on-demand snapshots, event pictures, history.

**Snapshots.** ``GET <snapshots>/snapshots/next/<id>?extras=force`` asks the
device for a fresh JPEG (``x-time-millis`` says when it was taken).
Identical requests in flight are made once (`Coalescer`), a picture younger
than ``snapshot_spacing`` is reused, and requests of one device are spaced
by the account's `RateLimiter` (Ring throttles them, and each wakes a
battery device). Battery devices:

- take no snapshot while a live view runs (the radio is busy streaming): a
  `DeviceError` with ``code="live_view_running"``, on which the facade takes
  the picture from the running stream's keyframe instead;
- are not woken unless the caller asked (``cam.snapshot(wake=True)``, each
  wake audited as ``device.wake``): otherwise the last event's picture
  (``GET /clients_api/snapshots/uuid?uuid=<snapshot_uuid of the last
  ding>``) is returned with its capture time, so ``snap.age`` says how old
  it is, within the caller's ``max_age``.

**History.** ``GET /clients_api/video_search/history`` lists a device's
recordings in a time window (``date_from``/``date_to`` in ms, ding ids as
text, ``duration``); ``GET /clients_api/dings/<id>/share/play?
disable_redirect=true`` gives a pre-signed download URL on Ring's storage
(no token is sent there), read with an idle timeout and a size cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from camsdk.driver import (
    AccessDeniedError,
    CameraProtocolError,
    DeviceError,
    DeviceRecording,
    RecordingSink,
    RequestContext,
    Snapshot,
    device_snapshot,
    host_allowed,
)

from ._classify import parse_time, ring_kind
from ._devices import RingDevice, device_id

if TYPE_CHECKING:  # pragma: no cover
    from ._account import RingSession

__all__ = ["download", "event_picture", "list_recordings", "on_demand_snapshot"]

MAX_SNAPSHOT = 4 * 1024 * 1024
MAX_RECORDING = 1024 * 1024 * 1024
_MAX_LISTED = 2000


def _captured(headers: Mapping[str, str]) -> datetime:
    value = headers.get("x-time-millis", "")
    if value.isdigit() and len(value) <= 16:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return datetime.now(UTC)


async def on_demand_snapshot(session: RingSession, device: RingDevice, camera_id: str,
                             request: RequestContext) -> Snapshot:
    """A fresh JPEG from the device (see the module docstring)."""
    if device.battery_powered and session.live_view_running(device.key):
        raise DeviceError(
            "a battery Ring device takes no snapshot while a live view runs; the stream's "
            "picture is used instead", scheme="ring", url=f"{session.shown}/{device.key}",
            code="live_view_running")
    spacing = session.options.snapshot_spacing
    cached = session.stills.get(device.key)
    if cached is not None and cached.age < spacing and (
            request.max_age is None or cached.age <= request.max_age):
        return cached

    async def fetch() -> Snapshot:
        kind = f"snapshot:{device.key}"
        session.account.limiter.spacing[kind] = spacing
        api = session.api
        config = session.config
        answer = await api.request(
            "GET", api.url("snapshot", f"/snapshots/next/{device.id}"), action="snapshot",
            kind=kind, max_wait=config.snapshot_timeout / 2, params={"extras": "force"},
            headers={"Accept": "image/jpeg"}, max_bytes=MAX_SNAPSHOT,
            timeout=config.snapshot_timeout,
        )
        snap = device_snapshot(answer.content, content_type=answer.media_type,
                               camera_id=camera_id, scheme="ring",
                               url=f"{session.shown}/{device.key}",
                               captured_at=_captured(answer.headers))
        session.stills[device.key] = snap
        return snap

    snap: Snapshot = await session.snapshots.run(("snapshot", device.key), fetch)
    return snap


async def event_picture(session: RingSession, device: RingDevice, camera_id: str,
                        request: RequestContext) -> Snapshot:
    """The last event's picture of a sleeping device, with its capture time (no wake)."""
    shown = f"{session.shown}/{device.key}"
    known = session.pictures.get(device.key)
    if known is None:
        raise AccessDeniedError(
            "the device runs on battery and no event picture of it is known yet; ask with "
            "wake=True to take a snapshot (it drains the battery)", scheme="ring", url=shown,
            reason="asleep")
    uuid, at = known
    age = time.time() - at
    if request.max_age is not None and age > request.max_age:
        raise AccessDeniedError(
            f"the device runs on battery and its last event picture is {age:.0f} s old, "
            "older than max_age; ask with wake=True to take a snapshot", scheme="ring",
            url=shown, reason="asleep")
    cached = session.event_stills.get(device.key)
    if cached is not None and cached[0] == uuid:
        return cached[1]
    api = session.api
    answer = await api.request(
        "GET", api.url("api", "/clients_api/snapshots/uuid"), action="event picture",
        params={"uuid": uuid}, headers={"Accept": "image/jpeg"}, max_bytes=MAX_SNAPSHOT,
        timeout=session.config.snapshot_timeout,
    )
    snap = device_snapshot(answer.content, content_type=answer.media_type, camera_id=camera_id,
                           scheme="ring", url=shown, captured_at=datetime.fromtimestamp(at, UTC))
    session.event_stills[device.key] = (uuid, snap)
    return snap


def _recording(item: Mapping[str, Any], device: RingDevice, camera_id: str
               ) -> DeviceRecording | None:
    raw_id = item.get("ding_id")
    ident = raw_id if isinstance(raw_id, str) and raw_id.isdigit() else None
    if ident is None:
        number = device_id(raw_id)
        ident = str(number) if number is not None else None
    if not ident:
        return None
    start = parse_time(item.get("created_at"))
    duration = item.get("duration")
    seconds = float(duration) if isinstance(duration, int | float) and not isinstance(
        duration, bool) and 0 <= duration < 86400 else None
    raw = str(item.get("kind", ""))[:32].lower()
    cv = item.get("cv_properties") if isinstance(item.get("cv_properties"), Mapping) else {}
    assert isinstance(cv, Mapping)
    detection = str(cv.get("detection_type") or ("human" if cv.get("person_detected") else ""))
    kind = ring_kind(raw, detection.lower())
    if kind is None:
        from camsdk.driver import EventKind

        kind = EventKind.OTHER  # a recorded live view
    return DeviceRecording(
        id=ident, camera_id=camera_id, start=start,
        end=start + timedelta(seconds=seconds) if seconds is not None else None,
        kind=kind, duration=seconds,
        extra={"ring_kind": raw, "device": device.key, "state": str(item.get("state", ""))[:32],
               "favorite": item.get("favorite") is True},
    )


async def list_recordings(session: RingSession, device: RingDevice, camera_id: str,
                          start: datetime, end: datetime) -> list[DeviceRecording]:
    """The device's recordings that start within ``start``..``end``."""
    api = session.api
    data = await api.get_json(
        api.url("api", "/clients_api/video_search/history"), action="recordings",
        params={"doorbot_id": str(device.id), "date_from": str(int(start.timestamp() * 1000)),
                "date_to": str(int(end.timestamp() * 1000)), "order": "asc"},
    )
    items = data.get("video_search") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise CameraProtocolError("Ring's recording list has no video_search", scheme="ring",
                                  url=f"{session.shown}/{device.key}")
    found = []
    for item in items[:_MAX_LISTED]:
        if isinstance(item, Mapping):
            rec = _recording(item, device, camera_id)
            if rec is not None and start <= rec.start < end:
                found.append(rec)
    return found


async def download(session: RingSession, device: RingDevice, recording: DeviceRecording,
                   file: RecordingSink, progress: Callable[[float], None] | None) -> None:
    """Write the recording's MP4 to ``file`` (see the module docstring)."""
    api = session.api
    shown = f"{session.shown}/{device.key}"
    if not recording.id.isdigit():
        raise CameraProtocolError("not a Ring recording id", scheme="ring", url=shown)
    data = await api.get_json(api.url("api", f"/clients_api/dings/{recording.id}/share/play"),
                              action="recording link", params={"disable_redirect": "true"})
    link = data.get("url") if isinstance(data, Mapping) else None
    if not isinstance(link, str) or urlsplit(link).scheme not in ("https", "http"):
        raise CameraProtocolError("Ring gave no download link for the recording",
                                  scheme="ring", url=shown)
    host = (urlsplit(link).hostname or "").lower()
    # Ring's own hosts get the token; pre-signed storage links carry their own grant.
    authorized = host_allowed(host, session.options.hosts())
    body = await api.open(link, action="recording download",
                          idle_timeout=session.config.request_timeout, authorized=authorized)
    try:
        declared = body.response.headers.get("content-length", "")
        total = int(declared) if declared.isdigit() else None
        if total is not None and total > MAX_RECORDING:
            raise CameraProtocolError(f"the recording is larger than {MAX_RECORDING} bytes",
                                      scheme="ring", url=shown)
        while True:
            chunk = await body.chunk()
            if chunk is None:
                break
            if file.written + len(chunk) > MAX_RECORDING:
                raise CameraProtocolError(f"the recording is larger than {MAX_RECORDING} bytes",
                                          scheme="ring", url=shown)
            await file.write(chunk)
            if progress is not None and total:
                progress(min(0.99, file.written / total))
    finally:
        await body.aclose()
