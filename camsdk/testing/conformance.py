"""A conformance suite every camera driver can run, built-in or third-party.

Subclass `CameraConformance` in a test module and provide a ``camera_url``
fixture (and, if needed, ``camera_options`` with keyword arguments for
`camsdk.open`). Each test checks one promise of the driver contract through
the public facade, skipping what the camera does not declare::

    import pytest
    from camsdk.testing.conformance import CameraConformance

    class TestMyDriver(CameraConformance):
        @pytest.fixture
        def camera_url(self, my_simulator):
            return my_simulator.url

Tests are async (anyio on asyncio) and bound every wait with a timeout.
"""

from __future__ import annotations

import io
from itertools import pairwise
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import Capability, Discontinuity, MediaPacket, VideoFrame

__all__ = ["CameraConformance"]

_WAIT = 20.0


class CameraConformance:
    """Contract tests; subclasses provide the ``camera_url`` fixture."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        """Extra keyword arguments for `camsdk.open` (credentials, config ...)."""
        return {}

    def _open(self, url: str, options: dict[str, Any]) -> camsdk.Camera:
        return camsdk.open(url, **options)

    async def test_connect_reports_identity_and_honest_capabilities(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        cam = self._open(camera_url, camera_options)
        declared = camsdk.available_drivers()[cam.scheme].capabilities
        with anyio.fail_after(_WAIT):
            async with cam:
                assert cam.info.id
                assert cam.capabilities in declared, "capabilities beyond the declared ones"

    async def test_open_does_no_io_and_close_is_final(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        cam = self._open(camera_url, camera_options)
        assert cam.state is camsdk.CameraState.NEW
        with anyio.fail_after(_WAIT):
            async with cam:
                pass
        with pytest.raises(camsdk.CameraClosedError):
            await cam.connect()

    async def test_repr_and_url_never_show_a_password(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        cam = self._open(camera_url, camera_options)
        creds = camera_options.get("credentials")
        secrets = [creds.password.get_secret_value()] if creds is not None else []
        from camsdk._url import CameraURL

        if CameraURL.parse(camera_url).password:
            secrets.append(CameraURL.parse(camera_url).password or "")
        for text in (repr(cam), cam.url):
            for secret in filter(None, secrets):
                assert secret not in text
        await cam.aclose()

    async def test_snapshot_is_a_decodable_jpeg(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        import av

        async with self._open(camera_url, camera_options) as cam:
            if not cam.supports(Capability.SNAPSHOT):
                pytest.skip("camera has no snapshot")
            with anyio.fail_after(_WAIT):
                snap = await cam.snapshot()
        assert snap.jpeg[:2] == b"\xff\xd8"
        assert snap.source in ("device", "stream")
        with av.open(io.BytesIO(snap.jpeg), "r") as container:
            frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (snap.width, snap.height)

    async def test_stream_starts_on_a_keyframe_with_increasing_timestamps(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        async with self._open(camera_url, camera_options) as cam:
            if not cam.supports(Capability.STREAM):
                pytest.skip("camera has no stream")
            packets: list[MediaPacket] = []
            with anyio.fail_after(_WAIT):
                async with cam.stream() as stream, stream.packets(audio=False) as it:
                    assert stream.info.width > 0 and stream.info.height > 0
                    async for item in it:
                        if isinstance(item, MediaPacket):
                            packets.append(item)
                        if len(packets) >= 10:
                            break
        assert packets[0].keyframe
        dts = [p.dts for p in packets]
        assert all(b is not None and a is not None and b > a for a, b in pairwise(dts))

    async def test_frames_decode_at_the_stream_size(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        async with self._open(camera_url, camera_options) as cam:
            if not cam.supports(Capability.STREAM):
                pytest.skip("camera has no stream")
            with anyio.fail_after(_WAIT):
                async with cam.stream() as stream, stream.frames(format="rgb24") as frames:
                    async for frame in frames:
                        if isinstance(frame, Discontinuity):
                            continue
                        assert isinstance(frame, VideoFrame)
                        array = frame.to_ndarray()
                        assert array.shape == (stream.info.height, stream.info.width, 3)
                        break

    async def test_missing_capabilities_raise_unsupported(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        async with self._open(camera_url, camera_options) as cam:
            if cam.supports(Capability.PTZ):
                with anyio.fail_after(_WAIT):
                    status = await cam.ptz.status()
                assert -1.0 <= status.pan <= 1.0
            else:
                with pytest.raises(camsdk.UnsupportedCapabilityError):
                    cam.ptz  # noqa: B018
            if not cam.capabilities & (Capability.EVENTS | Capability.STREAM):
                with pytest.raises(camsdk.UnsupportedCapabilityError):
                    cam.events()

    async def test_event_subscription_opens_and_closes_cleanly(
        self, camera_url: str, camera_options: dict[str, Any]
    ) -> None:
        async with self._open(camera_url, camera_options) as cam:
            if not cam.capabilities & (Capability.EVENTS | Capability.STREAM):
                pytest.skip("camera has neither events nor a stream")
            with anyio.fail_after(_WAIT):
                async with cam.events():
                    pass
