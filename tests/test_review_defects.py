"""Regression tests for the defects a review found in the owner's controls and the driver seam.

Each test names the defect it pins down; each failed before its fix. The
walk over the public API (defect 1) lives in tests/privacy/test_public_api_walk.py,
the audit-log forgery (defect 2) in tests/privacy/test_audit_forgery.py, HLS
host pinning (defect 5) in tests/hls/.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import anyio
import httpx
import pytest

import camsdk
from camsdk import AccessDeniedError, Action, Capability, ConfigurationError, Principal
from camsdk.driver import CameraDriver, CameraInfo, MediaPacket, StreamInfo
from camsdk.drivers.virtual import VirtualDriver
from camsdk.privacy import Grant, GrantPolicy, MemoryAuditSink, PrivacyMask

pytestmark = pytest.mark.anyio

WAIT = 10.0
NEIGHBOUR = Principal("neighbour")
FAST = "size=160x120&fps=30&gop=15"
TOP_LEFT = PrivacyMask.rectangle(0.0, 0.0, 0.5, 0.5, label="window")


def grant(camera: str, *actions: Action, **fields: Any) -> Grant:
    return Grant(
        principal=NEIGHBOUR.id, cameras={camera}, actions=set(actions), purpose="security",
        expires_at=datetime.now(UTC) + timedelta(hours=1), **fields,
    )


# -- 3: the audit log records the final decision ----------------------------------------


async def test_a_raw_media_refusal_is_a_denial_in_the_audit_log() -> None:
    audit = MemoryAuditSink()
    policy = GrantPolicy([grant("virtual:d3", Action.STREAM_OPEN, Action.PACKETS)])
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://d3?{FAST}", principal=NEIGHBOUR, policy=policy,
                               audit=audit, masks=[TOP_LEFT]) as cam:
            async with cam.stream(purpose="security") as stream:
                with pytest.raises(AccessDeniedError, match="raw_media"):
                    stream.packets(purpose="security")
    packets = [r for r in audit.records if r.get("action") == "packets"]
    assert [(r["allowed"], r["reason"]) for r in packets] == [
        (False, "masks require raw_media")
    ]


async def test_a_refused_recording_leaves_a_denial_and_no_file(tmp_path: Path) -> None:
    audit = MemoryAuditSink()
    policy = GrantPolicy([grant("virtual:d3rec", Action.RECORD)])
    async with camsdk.open(f"virtual://d3rec?{FAST}", principal=NEIGHBOUR, policy=policy,
                           audit=audit, masks=[TOP_LEFT]) as cam:
        with pytest.raises(AccessDeniedError):
            await cam.record(tmp_path / "clip.mp4", duration=1, purpose="security")
    records = [r for r in audit.records if r.get("action") == "record"]
    assert [r["allowed"] for r in records] == [False]
    assert not list(tmp_path.iterdir())


# -- 4: a device's own masks never replace the grant's ----------------------------------


class SelfMaskingCamera(VirtualDriver):
    """A virtual camera that says it masks its own output (as some devices do)."""

    schemes: ClassVar[tuple[str, ...]] = ("selfmask",)
    declared_capabilities: ClassVar[Capability] = (
        VirtualDriver.declared_capabilities | Capability.PRIVACY_MASK
    )

    def setup(self) -> None:
        super().setup()
        self.report_capabilities(self.capabilities | Capability.PRIVACY_MASK)


async def test_a_device_that_masks_itself_still_gets_the_grants_masks() -> None:
    camsdk.register_driver("selfmask", SelfMaskingCamera)
    policy = GrantPolicy([
        grant("virtual:d4", Action.STREAM_OPEN, Action.FRAMES, Action.PACKETS,
              masks=(TOP_LEFT,)),
    ])
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"selfmask://d4?{FAST}", principal=NEIGHBOUR,
                               policy=policy) as cam:
            assert cam.supports(Capability.PRIVACY_MASK)
            async with cam.stream(purpose="security") as stream:
                with pytest.raises(AccessDeniedError, match="raw_media"):
                    stream.packets(purpose="security")
                async with stream.frames(format="rgb24", purpose="security") as frames:
                    async for frame in frames:
                        if isinstance(frame, camsdk.VideoFrame):
                            pixels = frame.to_ndarray()
                            break
    assert pixels[4:56, 4:76].max() == 0, "the grant's mask was not applied"
    assert pixels[64:116, 84:156].max() > 0


# -- 6: one consumer's bad format never stalls the others -------------------------------


async def test_an_unconvertible_frame_format_is_refused_when_asked_for() -> None:
    async with camsdk.open(f"virtual://d6?{FAST}") as cam, cam.stream() as stream:
        for bad in ("pal8", "no-such-format", ""):
            with pytest.raises(ConfigurationError):
                stream.frames(format=bad)
        with anyio.fail_after(WAIT):
            async with stream.frames(format="gray") as frames:
                frame = await anext(frames)
                while not isinstance(frame, camsdk.VideoFrame):
                    frame = await anext(frames)
    assert frame.format == "gray"


async def test_a_failing_consumer_transform_ends_that_consumer_only() -> None:
    from camsdk._pipeline._decoder import FrameConsumer
    from camsdk._pipeline._queue import ConsumerQueue

    def broken(frame: Any, owned: bool) -> Any:
        raise RuntimeError("transform failed")

    async with camsdk.open(f"virtual://d6b?{FAST}") as cam, cam.stream() as stream:
        session = cam._session(None)
        bad_queue: ConsumerQueue[Any] = ConsumerQueue(8)
        bad = FrameConsumer(bad_queue, transform=broken)
        with anyio.fail_after(WAIT):
            async with stream.frames() as good:
                session.attach_frames(bad)
                with pytest.raises(camsdk.StreamDecodeError, match="RuntimeError"):
                    while True:
                        await bad_queue.get()
                # The shared decoder goes on for everybody else.
                seen = 0
                async for item in good:
                    seen += isinstance(item, camsdk.VideoFrame)
                    if seen >= 3:
                        break
                session.detach_frames(bad)


# -- 7: a driver's foreign exception is translated and reconnected ------------------------


class FlakySource:
    """Yields a few virtual packets, then fails the way an httpx-based driver would."""

    live = True
    finite = False

    def __init__(self, info: StreamInfo, packets: list[MediaPacket]) -> None:
        self.info = info
        self._packets = packets

    async def __aiter__(self) -> AsyncIterator[MediaPacket]:
        for packet in self._packets:
            yield packet
        raise httpx.ReadError("connection reset while reading the body")

    async def aclose(self) -> None:
        pass


class FlakyCamera(CameraDriver):
    """Each stream breaks with a raw httpx error after one GOP."""

    schemes: ClassVar[tuple[str, ...]] = ("flaky",)
    declared_capabilities: ClassVar[Capability] = Capability.STREAM
    opened = 0

    async def connect(self) -> CameraInfo:
        return CameraInfo(id="flaky:1")

    async def open_stream(self, profile: str) -> FlakySource:
        from camsdk.drivers.virtual._scene import LoopParams, encoded_loop

        FlakyCamera.opened += 1
        params = LoopParams(width=160, height=120, fps=15, gop=15, seconds=1.0)
        loop = await anyio.to_thread.run_sync(encoded_loop, params)
        return FlakySource(loop.info, list(loop.video[:15]))


async def test_a_raw_httpx_error_from_a_source_is_translated_and_the_stream_reconnects() -> None:
    camsdk.register_driver("flaky", FlakyCamera)
    FlakyCamera.opened = 0
    config = {"backoff_base": 0.01, "backoff_cap": 0.02}
    with anyio.fail_after(WAIT):
        async with camsdk.open("flaky://x", config=config) as cam, cam.stream() as stream:
            async with stream.packets() as packets:
                markers = 0
                async for item in packets:
                    if isinstance(item, camsdk.Discontinuity) and item.reason == "reconnect":
                        markers += 1
                        if markers == 2:
                            break
    assert FlakyCamera.opened >= 3


# -- 8: principals are checked where they are given ----------------------------------------


async def test_a_principal_given_as_text_becomes_a_principal() -> None:
    policy = GrantPolicy([grant("virtual:d8", Action.SNAPSHOT)])
    async with camsdk.open(f"virtual://d8?{FAST}", principal="neighbour", policy=policy) as cam:
        assert cam.principal == NEIGHBOUR
        with anyio.fail_after(WAIT):
            snap = await cam.snapshot(purpose="security")
    assert snap.jpeg[:2] == b"\xff\xd8"


@pytest.mark.parametrize("principal", [42, None, "", "   ", object()])
def test_a_principal_of_another_kind_is_a_configuration_error_at_once(principal: Any) -> None:
    with pytest.raises(ConfigurationError, match="principal"):
        camsdk.open("virtual://d8b", principal=principal)


# -- 9: built-in drivers use only the public kit --------------------------------------------


def _camsdk_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name == "camsdk" or name.startswith("camsdk.")]


def test_built_in_drivers_import_nothing_private_of_camsdk() -> None:
    drivers = Path(camsdk.__file__).parent / "drivers"
    # camsdk.cloud is the public kit for cloud accounts (tokens, rate limits, leases).
    allowed = {"camsdk", "camsdk.driver", "camsdk.cloud"}
    offenders = {
        f"{path.relative_to(drivers)}: {name}"
        for path in sorted(drivers.rglob("*.py"))
        for name in _camsdk_imports(path)
        if name not in allowed
    }
    assert offenders == set()


def _absolute_imports(path: Path, package: str) -> list[str]:
    """Every module ``path`` imports, relative imports resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append(node.module or "")
            else:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append(".".join([*base, node.module] if node.module else base))
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def test_the_library_does_not_depend_on_its_test_tools() -> None:
    root = Path(camsdk.__file__).parent
    offenders = set()
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[1:2] == ("testing",):
            continue
        package = ".".join(parts[:-1])
        offenders |= {f"{path.relative_to(root)}: {name}"
                      for name in _absolute_imports(path, package)
                      if name == "camsdk.testing" or name.startswith("camsdk.testing.")}
    assert offenders == set()


def test_every_driver_and_hub_states_its_install_hint() -> None:
    builtins = [info for info in camsdk.available_drivers().values() if info.builtin]
    assert builtins and all(info.requires.startswith("pip install") for info in builtins)

