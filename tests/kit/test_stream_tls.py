"""`StreamSource(pinned_sha256=..., tls=...)`: RTSPS to a device with its own certificate."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator
from typing import ClassVar

import anyio
import pytest

import camsdk
from camsdk._gate import CameraRef
from camsdk._rtsp import RtspUpstream
from camsdk._upstream import check_source, rtsp_settings
from camsdk.driver import (
    CameraConfig,
    CameraDriver,
    CameraInfo,
    CameraUnreachableError,
    Capability,
    ConfigurationError,
    DriverOptions,
    MediaPacket,
    StreamProfile,
    StreamSource,
)
from camsdk.testing import RtspServer, self_signed_tls
from camsdk.testing._rtsp_source import EncodedLoop

pytestmark = pytest.mark.anyio

CONFIG = CameraConfig(connect_timeout=3.0, request_timeout=3.0)


class PinnedOptions(DriverOptions):
    """Where the test device's RTSPS server listens, and its certificate's fingerprint."""

    port: int = 0
    pin: str = ""


class PinnedCamDriver(CameraDriver[PinnedOptions]):
    """A device whose RTSPS certificate is self-signed: the driver knows its fingerprint."""

    schemes: ClassVar[tuple[str, ...]] = ("pinnedcam",)
    display_name: ClassVar[str] = "pinned RTSPS test camera"
    declared_capabilities: ClassVar[Capability] = Capability.STREAM
    requires: ClassVar[str] = ""

    async def connect(self) -> CameraInfo:
        return CameraInfo(id="pinnedcam:1", vendor="Test", model="pinned",
                          profiles=(StreamProfile(name="main"),))

    async def close(self) -> None:
        return None

    async def stream_source(self, profile: str) -> StreamSource:
        return StreamSource(url=f"rtsps://127.0.0.1:{self.options.port}/stream",
                            pinned_sha256=self.options.pin)


@pytest.fixture
async def device(clip: EncodedLoop) -> AsyncIterator[tuple[RtspServer, bytes]]:
    context, der = self_signed_tls("camera.local")  # a name that is not the address dialled
    async with RtspServer(clip, tls=context) as server:
        yield server, der


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


async def _first_packets(source: StreamSource, count: int = 3) -> list[MediaPacket]:
    settings = rtsp_settings(source, config=CONFIG, hosts=frozenset({"127.0.0.1"}))
    upstream = RtspUpstream(settings)
    got: list[MediaPacket] = []
    try:
        with anyio.fail_after(15):
            await upstream.start()
            async for packet in upstream:
                got.append(packet)
                if len(got) >= count:
                    break
    finally:
        await upstream.aclose()
    return got


async def test_a_driver_streams_rtsps_from_a_self_signed_device_by_its_pin(
    device: tuple[RtspServer, bytes],
) -> None:
    server, der = device
    camsdk.register_driver("pinnedcam", PinnedCamDriver)
    url = f"pinnedcam://127.0.0.1?port={server.port}&pin={_fingerprint(der)}"
    async with camsdk.open(url, config=CONFIG) as cam:
        with anyio.fail_after(20):
            async with cam.stream() as stream, stream.packets(audio=False) as packets:
                first = await anext(aiter(packets))
    assert isinstance(first, MediaPacket) and first.keyframe
    assert server.url.startswith("rtsps://")


async def test_a_certificate_other_than_the_pinned_one_is_refused(
    device: tuple[RtspServer, bytes],
) -> None:
    server, der = device
    wrong = _fingerprint(b"another certificate")
    with pytest.raises(CameraUnreachableError, match="not the pinned one") as info:
        await _first_packets(StreamSource(url=server.url, pinned_sha256=wrong))
    assert wrong in str(info.value) and _fingerprint(der) in str(info.value)
    assert server.requests == []  # not one RTSP request went to the impostor


async def test_without_a_pin_the_self_signed_device_is_refused(
    device: tuple[RtspServer, bytes],
) -> None:
    server, _ = device
    with pytest.raises(CameraUnreachableError, match="TLS"):
        await _first_packets(StreamSource(url=server.url))


async def test_a_fingerprint_with_colons_and_capitals_is_the_same_pin(
    device: tuple[RtspServer, bytes],
) -> None:
    server, der = device
    digest = _fingerprint(der).upper()
    shown = ":".join(digest[i:i + 2] for i in range(0, 64, 2))
    assert await _first_packets(StreamSource(url=server.url, pinned_sha256=shown))


async def test_a_tls_context_trusting_the_devices_certificate_is_used(
    device: tuple[RtspServer, bytes],
) -> None:
    server, der = device
    trusting = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    trusting.check_hostname = False  # the certificate names camera.local
    trusting.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    assert await _first_packets(StreamSource(url=server.url, tls=trusting))


def test_a_malformed_fingerprint_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        StreamSource(url="rtsps://cam/stream", pinned_sha256="12:34")


def test_a_pin_on_a_source_ffmpeg_would_read_is_refused() -> None:
    ref = CameraRef("c", "rtsps://cam", "rtsps")
    source = StreamSource(url="rtsps://cam/stream", pinned_sha256="a" * 64, client="ffmpeg")
    with pytest.raises(ConfigurationError):
        check_source(source, ref, local_ok=False, hosts=frozenset({"cam"}))
    with pytest.raises(ConfigurationError):
        check_source(StreamSource(url="rtsp://cam/s", pinned_sha256="a" * 64), ref,
                     local_ok=False, hosts=frozenset({"cam"}))
