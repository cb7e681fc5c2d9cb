"""The camera's audio through the gateway: clips, live fMP4 and the RTSP restream.

AAC (the virtual camera's ``audio=1``) is copied; G.711 (a virtual camera whose
microphone sends PCMU or PCMA, as most cameras' and doorbells' do) becomes AAC
in MP4 and goes out as it came on the restream. A camera without audio stays
video only everywhere, and so do masked views (the camera's sound is raw media).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import anyio
import av
import httpx
import numpy as np
import pytest
import websockets

import camsdk
from camsdk import MediaPacket
from camsdk.driver import PacketSource
from camsdk.drivers.virtual import VirtualDriver
from camsdk.drivers.virtual._driver import _encode
from camsdk.drivers.virtual._stream import VirtualStream
from camsdk.serve import Gateway, create_app, verify_export
from camsdk.serve._app import running
from camsdk.serve._footage import list_segments
from camsdk.testing import wait_until

from ._helpers import BASE, WAIT, OwnerClient, Requester, login, site_config, started

pytestmark = pytest.mark.anyio

VIDEO = "size=320x240&fps=15&gop=15"
AAC_URL = f"virtual://gw-sound?{VIDEO}&audio=1"
SILENT_URL = f"virtual://gw-silent?{VIDEO}"
MASK = {"points": [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]], "label": "left half"}
G711_RATE = 8000


def _g711(codec: str, seconds: Fraction) -> tuple[MediaPacket, ...]:
    """A 400 Hz tone of ``seconds`` as ``codec`` (pcm_mulaw / pcm_alaw), in 20 ms packets."""
    samples = int(seconds * G711_RATE)
    pcm = (np.sin(np.arange(samples) * 2 * math.pi * 400 / G711_RATE) * 3000).astype("<i2")
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = G711_RATE
    encoder: Any = av.CodecContext.create(codec, "w")
    encoder.sample_rate, encoder.layout, encoder.format = G711_RATE, "mono", "s16"
    encoder.open()
    data = b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])
    step = G711_RATE // 50
    return tuple(MediaPacket(data[at:at + step], at, at, Fraction(1, G711_RATE), True, "audio",
                             duration=step) for at in range(0, len(data), step))


class MulawCamera(VirtualDriver):
    """The virtual camera with a G.711 µ-law microphone (``g711u://<name>``), live-paced."""

    schemes: ClassVar[tuple[str, ...]] = ("g711u",)
    audio_codec: ClassVar[str] = "pcm_mulaw"

    async def open_stream(self, profile: str) -> PacketSource:
        loop = await _encode(self.options.loop_params(profile))
        info = dataclasses.replace(loop.info, audio_codec=self.audio_codec,
                                   audio_sample_rate=G711_RATE, audio_channels=1,
                                   audio_time_base=Fraction(1, G711_RATE), audio_extradata=None)
        loop = dataclasses.replace(loop, info=info,
                                   audio=_g711(self.audio_codec, loop.duration))
        return VirtualStream(device=self.device, loop=loop, faults=(), url=self.url.redacted())


class AlawCamera(MulawCamera):
    """The same with G.711 A-law (``g711a://<name>``)."""

    schemes: ClassVar[tuple[str, ...]] = ("g711a",)
    audio_codec: ClassVar[str] = "pcm_alaw"


camsdk.register_driver("g711u", MulawCamera)
camsdk.register_driver("g711a", AlawCamera)
MULAW_URL = f"g711u://gw-mulaw?{VIDEO}"
ALAW_URL = f"g711a://gw-alaw?{VIDEO}"


@contextlib.asynccontextmanager
async def one_camera(folder: Path, url: str, **changes: Any
                     ) -> AsyncIterator[tuple[Gateway, OwnerClient]]:
    """A started gateway with one camera, ``porch`` at ``url``, and its owner, logged in."""
    host = urlsplit(url).hostname or ""
    gateway = await started(site_config(
        folder, cameras=[{"name": "porch", "url": url, "record": True}],
        areas={"street": ["porch"]}, egress={"hosts": [host]}, **changes))
    try:
        transport = httpx.ASGITransport(app=create_app(gateway), client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield gateway, OwnerClient(client, (await login(client)).json()["csrf"])
    finally:
        await gateway.aclose()


# -- clips -----------------------------------------------------------------------------------


async def _export(gateway: Gateway, owner: OwnerClient, folder: Path,
                  masks: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """A clip of three kept segments, downloaded with its manifest."""
    footage = gateway.inventory.footage_dir("porch")
    with anyio.fail_after(WAIT):
        await wait_until(lambda: len(list_segments(footage)) >= 3)
    kept = list_segments(footage)
    start, end = kept[0].start, kept[-1].end
    requester = Requester(gateway, "Insurer")
    async with requester.client:
        request_id = await requester.submit(mode="recorded", footage_from=start.isoformat(),
                                            footage_until=end.isoformat())
        [grant] = await owner.approve(request_id, **({"masks": masks} if masks else {}))
        asked = await requester.client.post("/api/v1/exports", json={
            "grant_id": grant, "camera": "porch", "footage_from": start.isoformat(),
            "footage_until": end.isoformat()})
        assert asked.status_code == 202, asked.text
        export_id = asked.json()["export_id"]
        with anyio.fail_after(WAIT):
            await wait_until(lambda: gateway.exports[export_id].state != "pending")
        assert gateway.exports[export_id].state == "ready", gateway.exports[export_id].error
        clip = folder / "clip.mp4"
        clip.write_bytes(
            (await requester.client.get(f"/api/v1/exports/{export_id}/clip.mp4")).content)
        manifest = await requester.client.get(f"/api/v1/exports/{export_id}/manifest.json")
        clip.with_name("clip.mp4.manifest.json").write_bytes(manifest.content)
    return clip, json.loads(manifest.content)


def _spans(path: Path) -> dict[str, tuple[str, float]]:
    """Each track's codec and the seconds its packets cover."""
    out: dict[str, tuple[str, float]] = {}
    with av.open(str(path)) as container:
        for stream in container.streams:
            times = [(float(p.pts * p.time_base), float((p.duration or 0) * p.time_base))
                     for p in container.demux(stream) if p.size and p.pts is not None]
            container.seek(0)
            assert times, f"the {stream.type} track is empty"
            end = max(t + d for t, d in times)
            out[stream.type] = (stream.codec_context.name, end - min(t for t, _ in times))
    return out


@pytest.mark.parametrize("url", [AAC_URL, MULAW_URL], ids=["aac", "g711"])
async def test_a_clip_keeps_the_cameras_audio_as_aac_for_as_long_as_its_video(
    tmp_path: Path, url: str
) -> None:
    async with one_camera(tmp_path, url) as (gateway, owner):
        clip, manifest = await _export(gateway, owner, tmp_path)
    result = verify_export(clip, public_key=gateway.key.public_key())
    assert result.ok, result.reason
    assert result.c2pa is None or result.c2pa.state in ("Trusted", "Valid")
    assert manifest["footage"]["audio"] == "aac"
    spans = _spans(clip)
    (video_codec, video), (audio_codec, audio) = spans["video"], spans["audio"]
    assert (video_codec, audio_codec) == ("h264", "aac")
    assert video > 2.0
    # Audio AAC frames are 64 ms (16 kHz) or 128 ms (8 kHz): within a few frames.
    assert abs(audio - video) < 0.3, spans


async def test_a_masked_clip_is_video_only(tmp_path: Path) -> None:
    async with one_camera(tmp_path, AAC_URL) as (gateway, owner):
        clip, manifest = await _export(gateway, owner, tmp_path, masks={"porch": [MASK]})
    assert manifest["footage"]["masked"] is True and manifest["footage"]["audio"] is None
    assert set(_spans(clip)) == {"video"}


# -- live view -------------------------------------------------------------------------------


async def _live(gateway: Gateway, owner: OwnerClient, chunks: int,
                masks: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes]:
    """The init message and ``chunks`` binary messages of a requester's live view."""
    requester = Requester(gateway, "Neighbour")
    async with requester.client, running(gateway) as base:
        [grant] = await owner.approve(await requester.submit(),
                                      **({"masks": masks} if masks else {}))
        ticket = await requester.client.post("/api/v1/live",
                                             json={"grant_id": grant, "camera": "porch"})
        assert ticket.status_code == 201, ticket.text
        url = base.replace("http://", "ws://") + "/api/v1/live/ws?ticket=" + ticket.json()[
            "ticket"]
        data = bytearray()
        with anyio.fail_after(WAIT):
            async with websockets.connect(url) as ws:
                init = json.loads(await ws.recv())
                for _ in range(chunks):
                    message = await ws.recv()
                    assert isinstance(message, bytes)
                    data += message
    return init, bytes(data)


def _packets(mp4: bytes) -> dict[str, int]:
    counts = {"video": 0, "audio": 0}
    with av.open(io.BytesIO(mp4)) as container:
        for packet in container.demux():
            if packet.size:
                counts[packet.stream.type] += 1
    return counts


@pytest.mark.parametrize("url", [AAC_URL, ALAW_URL], ids=["aac", "g711"])
async def test_a_live_view_carries_the_cameras_audio_as_aac(tmp_path: Path, url: str) -> None:
    async with one_camera(tmp_path, url) as (gateway, owner):
        init, mp4 = await _live(gateway, owner, 40)
    assert init["audio"] is True and init["transcoded"] is False
    assert init["mime"].startswith('video/mp4; codecs="avc1.')
    assert init["mime"].endswith(',mp4a.40.2"')
    head = mp4[:mp4.index(b"moof")]
    assert head.count(b"trak") == 2 and b"mp4a" in head
    counts = _packets(mp4)
    assert counts["video"] >= 10 and counts["audio"] >= 10, counts


async def test_a_live_view_of_a_camera_without_audio_is_video_only(tmp_path: Path) -> None:
    async with one_camera(tmp_path, SILENT_URL) as (gateway, owner):
        init, mp4 = await _live(gateway, owner, 10)
    assert init["audio"] is False and "mp4a" not in init["mime"]
    assert mp4[:mp4.index(b"moof")].count(b"trak") == 1


async def test_a_masked_live_view_is_video_only(tmp_path: Path) -> None:
    async with one_camera(tmp_path, AAC_URL) as (gateway, owner):
        init, mp4 = await _live(gateway, owner, 10, masks={"porch": [MASK]})
    assert (init["audio"], init["transcoded"]) == (False, True)
    assert "mp4a" not in init["mime"] and _packets(mp4)["audio"] == 0


# -- RTSP restream ---------------------------------------------------------------------------


def _read_restream(url: str, audio_packets: int) -> tuple[dict[str, str], int, int]:
    """PyAV (FFmpeg's RTSP client) on the restream: codecs per track and packets per kind.

    Reads until ``audio_packets`` audio packets or four seconds of video came.
    """
    codecs: dict[str, str] = {}
    counts = {"video": 0, "audio": 0}
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=WAIT) as container:
        codecs = {s.type: s.codec_context.name for s in container.streams}
        for packet in container.demux():
            if packet.size:
                counts[packet.stream.type] += 1
            if counts["audio"] >= audio_packets or counts["video"] >= 60:
                break
    return codecs, counts["video"], counts["audio"]


async def _restream_url(gateway: Gateway, owner: OwnerClient) -> str:
    requester = Requester(gateway, "Home NVR")
    async with requester.client:
        [grant] = await owner.approve(await requester.submit())
        login_ = (await requester.client.get(f"/api/v1/grants/{grant}/rtsp")).json()
    [url] = login_["urls"]
    user, password = quote(login_["username"], safe=""), quote(login_["password"], safe="")
    return url.replace("rtsp://", f"rtsp://{user}:{password}@", 1)


@pytest.mark.parametrize(("url", "codec"), [(AAC_URL, "aac"), (MULAW_URL, "pcm_mulaw")],
                         ids=["aac", "g711"])
async def test_the_restream_announces_and_sends_the_cameras_audio(
    tmp_path: Path, url: str, codec: str
) -> None:
    async with one_camera(tmp_path, url, server={"rtsp_port": 0}) as (gateway, owner):
        target = await _restream_url(gateway, owner)
        with anyio.fail_after(WAIT):
            codecs, video, audio = await anyio.to_thread.run_sync(_read_restream, target, 20)
    assert codecs == {"video": "h264", "audio": codec}
    assert audio >= 20 and video > 0


async def test_the_restream_of_a_camera_without_audio_is_video_only(tmp_path: Path) -> None:
    async with one_camera(tmp_path, SILENT_URL, server={"rtsp_port": 0}) as (gateway, owner):
        target = await _restream_url(gateway, owner)
        with anyio.fail_after(WAIT):
            codecs, video, audio = await anyio.to_thread.run_sync(_read_restream, target, 1)
    assert codecs == {"video": "h264"} and video > 0 and audio == 0
