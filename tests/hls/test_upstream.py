"""`HlsUpstream` over an in-memory fetcher: containers, codecs, refusals, errors, closing."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path

import anyio
import pytest

from camsdk import (
    CameraClosedError,
    CameraProtocolError,
    DeviceError,
    MediaPacket,
    RedirectRefusedError,
    StreamDecodeError,
    StreamEndedError,
    StreamError,
    StreamOpenError,
)
from camsdk._hls import ByteRange, FetchResult, HlsUpstream

from ._fakes import FakeFetcher, drain, media_playlist, segment_files

pytestmark = pytest.mark.anyio

URL = "http://cam.test/live/index.m3u8"
REDACTED = "http://cam.test/live/index.m3u8?token=***"


def vod(files: list[bytes], ext: str = "ts", *, head: tuple[str, ...] = ()) -> FakeFetcher:
    """A fetcher serving ``files`` as a VOD playlist at `URL`."""
    names = [f"seg{i}.{ext}" for i in range(len(files))]
    fetcher = FakeFetcher({URL: media_playlist(names, ended=True, head=head)})
    for name, data in zip(names, files, strict=True):
        fetcher.resources[f"http://cam.test/live/{name}"] = data
    return fetcher


def upstream(fetcher: FakeFetcher, **kwargs: object) -> HlsUpstream:
    return HlsUpstream(URL, fetcher, url_for_errors=REDACTED, scheme="hls+http", **kwargs)  # type: ignore[arg-type]


def increasing(packets: list[MediaPacket], kind: str) -> bool:
    stamps = [p.dts for p in packets if p.kind == kind]
    return len(stamps) > 1 and all(b > a for a, b in pairwise(stamps))  # type: ignore[operator]


async def test_a_vod_mpegts_playlist_gives_every_packet_then_ends(ts_av: Path) -> None:
    stream = upstream(vod(segment_files(ts_av)))
    info, packets, ended = await drain(stream)
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 320, 240, 30.0)
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 1)
    assert info.audio_extradata == bytes.fromhex("1188")  # AudioSpecificConfig from ADTS
    assert isinstance(ended, StreamEndedError) and ended.url == REDACTED
    assert not stream.live and stream.finite
    video = [p for p in packets if p.kind == "video"]
    assert len(video) == 120 and sum(p.keyframe for p in video) == 8
    assert video[0].keyframe and video[0].data.startswith(b"\0\0\0\1")
    assert increasing(packets, "video") and increasing(packets, "audio")


async def test_mpegts_audio_comes_as_raw_aac_frames(ts_av: Path) -> None:
    _, packets, _ = await drain(upstream(vod(segment_files(ts_av)[:1])))
    audio = [p for p in packets if p.kind == "audio"]
    assert audio and not any(p.data[:2] == b"\xff\xf1" for p in audio)


async def test_fmp4_gives_annex_b_with_parameter_sets_on_keyframes(fmp4_av: Path) -> None:
    files = segment_files(fmp4_av)
    fetcher = vod(files, "m4s", head=('#EXT-X-MAP:URI="init.mp4"',))
    fetcher.resources["http://cam.test/live/init.mp4"] = (fmp4_av.parent / "init.mp4").read_bytes()
    info, packets, ended = await drain(upstream(fetcher))
    assert isinstance(ended, StreamEndedError)
    assert info.extradata is not None and info.extradata.startswith(b"\0\0\0\1\x67")
    assert info.audio_extradata is not None and info.audio_extradata.startswith(b"\x11\x88")
    assert fetcher.count("http://cam.test/live/init.mp4") == 1  # cached
    keyframes = [p for p in packets if p.kind == "video" and p.keyframe]
    assert len(keyframes) == 8
    assert all(b"\0\0\0\1\x67" in p.data for p in keyframes)
    assert increasing(packets, "video") and increasing(packets, "audio")


async def test_hevc_fmp4_keyframes_carry_vps_sps_pps(fmp4_hevc: Path) -> None:
    fetcher = vod(segment_files(fmp4_hevc), "m4s", head=('#EXT-X-MAP:URI="init.mp4"',))
    fetcher.resources["http://cam.test/live/init.mp4"] = (
        fmp4_hevc.parent / "init.mp4"
    ).read_bytes()
    info, packets, _ = await drain(upstream(fetcher))
    assert (info.codec, info.width) == ("hevc", 320)
    keyframes = [p for p in packets if p.keyframe]
    assert len(keyframes) == 4
    assert all(p.data.startswith(b"\0\0\0\1\x40\x01") for p in keyframes)  # VPS first


async def test_audio_false_leaves_audio_out(ts_av: Path) -> None:
    info, packets, _ = await drain(upstream(vod(segment_files(ts_av)[:2]), audio=False))
    assert not info.has_audio
    assert {p.kind for p in packets} == {"video"}


async def test_a_master_playlist_follows_its_highest_bandwidth_variant(ts_video: Path) -> None:
    fetcher = vod(segment_files(ts_video))
    fetcher.resources["http://cam.test/master.m3u8"] = (
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100\nlo/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900\nlive/index.m3u8\n"
    )
    stream = HlsUpstream("http://cam.test/master.m3u8", fetcher)
    _, packets, _ = await drain(stream)
    assert packets and fetcher.calls[:2] == ["http://cam.test/master.m3u8", URL]


async def test_byte_ranges_of_one_resource_read_like_separate_segments(ts_video: Path) -> None:
    first, second = segment_files(ts_video)[:2]
    plain = vod([first, second])
    _, expected, _ = await drain(upstream(plain))
    for ignore_ranges in (False, True):
        fetcher = FakeFetcher({
            URL: "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
                 f"#EXTINF:0.5,\n#EXT-X-BYTERANGE:{len(first)}@0\nall.ts\n"
                 f"#EXTINF:0.5,\n#EXT-X-BYTERANGE:{len(second)}\nall.ts\n#EXT-X-ENDLIST\n",
            "http://cam.test/live/all.ts": first + second,
        })
        fetcher.ignore_ranges = ignore_ranges
        _, packets, _ = await drain(upstream(fetcher))
        assert [(p.data, p.pts) for p in packets] == [(p.data, p.pts) for p in expected]
        assert fetcher.ranges[1:] == [ByteRange(len(first), 0),
                                      ByteRange(len(second), len(first))]


@pytest.mark.parametrize(
    "uri", ["file:///etc/passwd", "data:video/mp2t;base64,RwAA", "concat:a.ts|b.ts"]
)
async def test_a_segment_of_another_scheme_is_refused_before_any_fetch(uri: str) -> None:
    fetcher = FakeFetcher({URL: media_playlist(["a.ts", uri], ended=True)})
    with pytest.raises(CameraProtocolError) as caught:
        await upstream(fetcher).start()
    assert fetcher.calls == [URL]  # only the playlist: not even the valid segment
    assert (caught.value.url, caught.value.scheme) == (REDACTED, "hls+http")


async def test_a_key_of_another_scheme_is_refused_before_any_fetch() -> None:
    fetcher = FakeFetcher({URL: media_playlist(
        ["a.ts"], ended=True, head=['#EXT-X-KEY:METHOD=AES-128,URI="file:///key"'])})
    with pytest.raises(CameraProtocolError):
        await upstream(fetcher).start()
    assert fetcher.calls == [URL]


async def test_hosts_outside_allowed_hosts_are_refused_before_any_fetch() -> None:
    fetcher = FakeFetcher({URL: media_playlist(["http://elsewhere.test/a.ts"], ended=True)})
    with pytest.raises(RedirectRefusedError):
        await upstream(fetcher, allowed_hosts={"cam.test"}).start()
    assert fetcher.calls == [URL]


async def test_a_final_url_downgraded_to_http_is_refused() -> None:
    class Downgrading(FakeFetcher):
        async def get(self, url: str, *, max_bytes: int,
                      byte_range: ByteRange | None = None) -> FetchResult:
            result = await super().get(url, max_bytes=max_bytes, byte_range=byte_range)
            return FetchResult(url.replace("https:", "http:"), result.content)

    secure = URL.replace("http:", "https:")
    fetcher = Downgrading({secure: media_playlist(["a.ts"], ended=True)})
    with pytest.raises(RedirectRefusedError):
        await HlsUpstream(secure, fetcher).start()


async def test_a_body_that_is_not_a_playlist_is_a_protocol_error() -> None:
    with pytest.raises(CameraProtocolError, match="EXTM3U") as caught:
        await upstream(FakeFetcher({URL: "<html>login</html>"})).start()
    assert caught.value.url == REDACTED


async def test_an_empty_vod_playlist_cannot_open() -> None:
    with pytest.raises(StreamOpenError):
        await upstream(FakeFetcher({URL: media_playlist([], ended=True)})).start()


async def test_a_missing_vod_segment_fails_the_stream(ts_video: Path) -> None:
    fetcher = vod(segment_files(ts_video))
    del fetcher.resources["http://cam.test/live/seg2.ts"]
    _, packets, ended = await drain(upstream(fetcher))
    assert isinstance(ended, DeviceError) and ended.url == REDACTED
    assert len(packets) == 30  # the two segments before it


async def test_an_undemuxable_vod_segment_is_a_decode_error(ts_video: Path) -> None:
    files = segment_files(ts_video)
    fetcher = vod([files[0], b"\x00garbage" * 100])
    _, _, ended = await drain(upstream(fetcher))
    assert isinstance(ended, StreamDecodeError)


async def test_a_stream_without_video_cannot_open() -> None:
    fetcher = vod([b"ID3" + bytes(1000)])
    with pytest.raises(StreamError):
        await upstream(fetcher).start()


async def test_a_changed_video_codec_ends_the_stream_for_a_reopen(
    ts_video: Path, fmp4_hevc: Path
) -> None:
    fetcher = FakeFetcher({
        URL: "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.5,\na.ts\n#EXT-X-DISCONTINUITY\n"
             '#EXT-X-MAP:URI="init.mp4"\n#EXTINF:0.5,\nb.m4s\n',
        "http://cam.test/live/a.ts": segment_files(ts_video)[0],
        "http://cam.test/live/init.mp4": (fmp4_hevc.parent / "init.mp4").read_bytes(),
        "http://cam.test/live/b.m4s": segment_files(fmp4_hevc)[0],
    })
    stream = upstream(fetcher, live_start_index=0)
    _, packets, ended = await drain(stream)
    assert type(ended) is StreamError and "codec" in str(ended)
    assert len(packets) == 15


async def test_iterating_before_start_is_an_error() -> None:
    stream = upstream(FakeFetcher())
    with pytest.raises(StreamOpenError):
        async for _ in stream:
            pass
    await stream.aclose()


async def test_aclose_cancels_the_fetch_in_flight() -> None:
    fetcher = FakeFetcher({URL: media_playlist(["a.ts"])})
    fetcher.gate = asyncio.Event()
    stream = upstream(fetcher)
    opening = asyncio.create_task(stream.start())
    with anyio.fail_after(5):
        await fetcher.entered.wait()
    await stream.aclose()
    with pytest.raises(CameraClosedError):
        await opening
    assert fetcher.cancelled == 1


async def test_aclose_is_idempotent_and_needs_no_start() -> None:
    stream = upstream(FakeFetcher())
    await stream.aclose()
    await stream.aclose()
    with pytest.raises(CameraClosedError):
        await stream.start()


async def test_a_non_http_playlist_url_is_a_configuration_error() -> None:
    from camsdk import ConfigurationError

    with pytest.raises(ConfigurationError):
        HlsUpstream("file:///tmp/index.m3u8", FakeFetcher())


async def test_a_single_file_fmp4_playlist_reads_like_ffmpeg_reads_it(
    fmp4_single_file: Path,
) -> None:
    import av
    from av.bitstream import BitStreamFilterContext

    container = av.open(str(fmp4_single_file), format="hls",
                        options={"protocol_whitelist": "file,crypto"})
    try:
        video = container.streams.video[0]
        bsf = BitStreamFilterContext("h264_mp4toannexb", video)
        reference = [(bytes(p), p.pts, p.is_keyframe)
                     for packet in container.demux(video) if packet.size
                     for p in bsf.filter(packet)]
    finally:
        container.close()
    fetcher = FakeFetcher({
        URL: fmp4_single_file.read_text(),
        "http://cam.test/live/all.mp4": (fmp4_single_file.parent / "all.mp4").read_bytes(),
    })
    _, packets, ended = await drain(upstream(fetcher))
    assert isinstance(ended, StreamEndedError)
    assert [(p.data, p.pts, p.keyframe) for p in packets] == reference
    # The init section once, then one ranged request per segment: never the whole file.
    assert fetcher.count("http://cam.test/live/all.mp4") == 1 + 4
    assert all(r is not None for r in fetcher.ranges[1:])


async def test_a_redirect_to_a_host_outside_allowed_hosts_is_refused() -> None:
    class Redirecting(FakeFetcher):
        async def get(self, url: str, *, max_bytes: int,
                      byte_range: ByteRange | None = None) -> FetchResult:
            result = await super().get(url, max_bytes=max_bytes, byte_range=byte_range)
            return FetchResult("http://elsewhere.test/index.m3u8", result.content)

    fetcher = Redirecting({URL: media_playlist(["a.ts"], ended=True)})
    with pytest.raises(RedirectRefusedError):
        await upstream(fetcher, allowed_hosts={"cam.test"}).start()
