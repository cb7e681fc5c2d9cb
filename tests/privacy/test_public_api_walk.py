"""The facade is the only door: walking every public name under a deny-all policy yields nothing.

Each test opens real cameras (virtual, RTSP with a password, a hub) as a
principal the policy denies everything, then walks every public attribute of
`Camera`, `Hub`, `MediaStream`, `PTZControl`, `EventStream` and `Speaker`,
calling each callable with plausible arguments, awaiting what it returns,
entering what is a context manager and iterating what is an iterator. The
walk passes only if nothing it reaches is media (packets, frames, snapshots,
recordings, JPEG bytes), a driver, a stream source, or text holding the
password, and every attempt that was refused is in the audit log as a denial.

A public name the walk does not know fails the test, so a new method cannot
slip past it: add it to `ARGUMENTS` with the arguments to try.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import AccessDeniedError, CamError, Principal
from camsdk.driver import CameraDriver, StreamSource
from camsdk.drivers.virtual import virtual_device
from camsdk.privacy import DenyByDefault, MemoryAuditSink
from camsdk.testing import RtspServer, generate_source

pytestmark = pytest.mark.anyio

PASSWORD = "walk-s3cret-PW"
STRANGER = Principal("stranger")
WAIT = 10.0

#: Arguments tried for each public callable, by name; ``()`` means "no arguments".
ARGUMENTS: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {
    # Camera
    "connect": [((), {})],
    "aclose": [],  # called last, by the walker itself
    "supports": [((camsdk.Capability.STREAM,), {})],
    "stream": [((), {}), (("main",), {"audio": False})],
    "snapshot": [((), {}), ((), {"source": "stream"}), ((), {"source": "device"})],
    "record": [(("{tmp}/walk.mp4", 1.0), {}), (("{tmp}/walk2.mp4", 1.0), {"transcode": True})],
    "recorder": [(("{tmp}/footage",), {}), (("{tmp}/footage",), {"clips": camsdk.EventClips()})],
    "events": [((), {}), ((), {"with_snapshot": True})],
    "publish_event": [((camsdk.CameraEvent(kind=camsdk.EventKind.MOTION),), {})],
    "talk": [((), {})],
    "set_privacy_mode": [((True,), {}), ((False,), {})],
    "call_extension": [(("reboot",), {}), (("set_scene", "night"), {})],
    "motion": [((), {}), ((), {"keyframes_only": True, "profile": "main"})],
    "acting_for": [(("owner",), {}), ((STRANGER,), {})],
    "recordings": [((datetime(2024, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)), {})],
    # DeviceRecording
    "download": [(("{tmp}/walk-download.mp4",), {})],
    # Hub
    "listing": [((), {})],
    "cameras": [((), {}), ((), {"include_offline": True})],
    # MediaStream
    "open": [((), {})],
    "packets": [((), {})],
    "frames": [((), {}), ((), {"keyframes_only": True, "format": "rgb24"})],
    "stats": [((), {})],
    # PTZControl
    "move": [((0.1, 0.0, 0.0), {})],
    "stop": [((), {})],
    "absolute": [((0.0, 0.0, 0.0), {})],
    "relative": [((0.1, 0.0, 0.0), {})],
    "status": [((), {})],
    "presets": [((), {})],
    "goto_preset": [(("1",), {})],
    "set_preset": [(("walk",), {})],
    "home": [((), {})],
    # Speaker
    "send": [((b"\x00\x00" * 160,), {})],
    "send_encoded": [((b"\xff" * 160, 160), {})],
}

#: Types whose presence anywhere in a result means media (or a way to it) got out.
FORBIDDEN = (
    camsdk.MediaPacket,
    camsdk.VideoFrame,
    camsdk.Snapshot,
    camsdk.Recording,
    camsdk.Segment,
    CameraDriver,
    StreamSource,
)


class Walk:
    """Walks public names, records what came out and what was refused."""

    def __init__(self, tmp: Path, audit: MemoryAuditSink) -> None:
        self.tmp = tmp
        self.audit = audit
        self.denied = 0
        self.reached: list[str] = []
        self.leaks: list[str] = []
        self.unknown: list[str] = []
        self.children: list[tuple[str, Any]] = []

    def check(self, where: str, value: Any, depth: int = 0) -> None:
        """Fail on media, drivers, stream sources or the password anywhere in ``value``."""
        if isinstance(value, FORBIDDEN):
            self.leaks.append(f"{where}: {type(value).__name__}")
            return
        if isinstance(value, bytes | bytearray | memoryview) and len(value) > 64:
            self.leaks.append(f"{where}: {len(value)} bytes")
            return
        for text in (repr(value), str(value)):
            if PASSWORD in text:
                self.leaks.append(f"{where}: the password in {type(value).__name__}")
        if depth >= 2 or isinstance(value, str | int | float | bool | type(None)):
            return
        if isinstance(value, dict):
            for key, item in value.items():
                self.check(f"{where}[{key!r}]", item, depth + 1)
        elif isinstance(value, list | tuple | set | frozenset):
            for index, item in enumerate(value):
                self.check(f"{where}[{index}]", item, depth + 1)
        else:
            for name in dir(value):
                if name.startswith(("_", "model_")):
                    continue
                try:
                    attr = inspect.getattr_static(value, name)
                except AttributeError:
                    continue
                if isinstance(attr, (property, *FORBIDDEN)) or not callable(attr):
                    try:
                        self.check(f"{where}.{name}", getattr(value, name), depth + 1)
                    except CamError:
                        pass

    async def settle(self, where: str, value: Any) -> None:
        """Await, enter or iterate ``value`` as far as it goes, checking what comes out."""
        with anyio.fail_after(WAIT):
            try:
                if inspect.isawaitable(value):
                    value = await value
                    self.check(where, value)
                if isinstance(value, camsdk.Camera | camsdk.Hub):
                    return  # connect() hands back the object being walked: never close it
                if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
                    async with value as entered:
                        self.check(f"{where} (entered)", entered)
                        self.children.append((f"{where} (entered)", entered))
                        await self.iterate(where, entered)
                    return
                await self.iterate(where, value)
                self.check(where, value)
            except AccessDeniedError:
                self.denied += 1
            except CamError:
                pass  # refused for another reason (closed, unsupported, bad argument)

    async def iterate(self, where: str, value: Any) -> None:
        if isinstance(value, AsyncIterator) or hasattr(value, "__anext__"):
            item = await value.__anext__()
            self.leaks.append(f"{where}: iteration yielded {type(item).__name__}")
        elif isinstance(value, Iterator):
            for index, item in enumerate(value):
                self.check(f"{where}[{index}]", item)
                if index > 100:
                    break

    async def walk(self, where: str, obj: Any) -> None:
        """Every public name of ``obj``: read attributes, call callables (see `ARGUMENTS`)."""
        for name in sorted(n for n in dir(obj) if not n.startswith("_")):
            target = f"{where}.{name}"
            try:
                attr = getattr(obj, name)
            except AccessDeniedError:
                self.denied += 1
                continue
            except CamError:
                continue
            if not callable(attr) or isinstance(attr, type):
                self.check(target, attr)
                if name in ("ptz",):
                    self.children.append((target, attr))
                continue
            if name not in ARGUMENTS:
                self.unknown.append(target)
                continue
            for args, kwargs in ARGUMENTS[name]:
                args = tuple(a.format(tmp=self.tmp) if isinstance(a, str) else a for a in args)
                self.reached.append(target)
                try:
                    result = attr(*args, **kwargs)
                except AccessDeniedError:
                    self.denied += 1
                    continue
                except (CamError, TypeError):
                    continue
                await self.settle(target, result)
                if isinstance(result, Awaitable | AsyncIterator) or hasattr(result, "__aenter__"):
                    continue
                self.children.append((target, result))


async def walk_all(walk: Walk, root: str, obj: Any) -> None:
    """Walk ``obj`` and whatever public objects its calls handed out (bounded)."""
    seen: set[int] = set()
    todo = [(root, obj)]
    while todo and len(seen) < 40:
        where, item = todo.pop()
        if id(item) in seen or isinstance(item, str | int | float | bool | type(None)):
            continue
        seen.add(id(item))
        walk.children = []
        await walk.walk(where, item)
        todo.extend(walk.children)


def assert_clean(walk: Walk) -> None:
    assert walk.unknown == [], "public names the walk does not know; add them to ARGUMENTS"
    assert walk.leaks == []
    assert walk.denied > 0
    denials = [r for r in walk.audit.records if r.get("event") == "access" and not r["allowed"]]
    assert len(denials) >= walk.denied
    assert not [r for r in walk.audit.records if r.get("event") == "access" and r["allowed"]]


async def test_a_virtual_camera_yields_nothing_under_deny_all(tmp_path: Path) -> None:
    audit = MemoryAuditSink()
    walk = Walk(tmp_path, audit)
    url = "virtual://walk?size=160x120&fps=15&events=motion:1s"
    async with camsdk.open(url, principal=STRANGER, policy=DenyByDefault(), audit=audit) as cam:
        await walk_all(walk, "cam", cam)
        assert virtual_device("walk").streams_opened == 0
        assert virtual_device("walk").packets_sent == 0
    assert_clean(walk)
    assert {"cam.snapshot", "cam.stream", "cam.record", "cam.events"} <= set(walk.reached)
    assert not list(tmp_path.iterdir()), "a refused recording left a file behind"


async def test_an_rtsp_camera_with_a_password_yields_nothing_and_shows_no_secret(
    tmp_path: Path,
) -> None:
    audit = MemoryAuditSink()
    walk = Walk(tmp_path, audit)
    source = generate_source(160, 120, fps=15, seconds=1.0)
    async with RtspServer(source, username="admin", password=PASSWORD) as server:
        url = server.url.replace("rtsp://", f"rtsp://admin:{PASSWORD}@")
        async with camsdk.open(url, principal="stranger", policy=DenyByDefault(),
                               audit=audit) as cam:
            await walk_all(walk, "cam", cam)
        # A stream session would still be playing: idle streams close only after 5 s.
        assert server.sessions == 0, "a media session was set up for a denied principal"
    assert_clean(walk)


async def test_a_hub_and_its_cameras_yield_nothing_under_deny_all(tmp_path: Path) -> None:
    audit = MemoryAuditSink()
    walk = Walk(tmp_path, audit)
    url = "virtual://walksite?cameras=2&size=160x120&fps=15"
    async with camsdk.hub(url, principal=STRANGER, policy=DenyByDefault(), audit=audit) as hub:
        await walk_all(walk, "hub", hub)
        for index, cam in enumerate(await hub.cameras()):
            async with cam:
                await walk_all(walk, f"hub.cameras()[{index}]", cam)
    assert_clean(walk)


async def test_the_walk_catches_a_public_handle_on_the_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The walk must be able to fail: a property handing out the driver is a leak.
    monkeypatch.setattr(camsdk.Camera, "driver", property(lambda cam: cam._driver), raising=False)
    audit = MemoryAuditSink()
    walk = Walk(tmp_path, audit)
    async with camsdk.open("virtual://walkleak?size=160x120", principal=STRANGER,
                           policy=DenyByDefault(), audit=audit) as cam:
        await walk_all(walk, "cam", cam)
    assert "cam.driver: VirtualDriver" in walk.leaks
