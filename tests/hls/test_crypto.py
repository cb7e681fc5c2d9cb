"""AES-128 segments: decryption, IVs, the key cache, and encryption camsdk refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from camsdk import (
    CameraProtocolError,
    StreamDecodeError,
    UnsupportedCapabilityError,
)
from camsdk._hls import HlsUpstream, Key
from camsdk._hls._crypto import KeyCache, check_method, decrypt_aes128, segment_iv
from tests.network._hls_server import encrypt_aes128

from ._fakes import FakeFetcher, drain, media_playlist, segment_files

pytestmark = pytest.mark.anyio

KEY = bytes(range(16))
URL = "http://cam.test/live.m3u8"
KEY_URL = "http://cam.test/key.bin"


def test_decrypts_what_aes_128_cbc_with_pkcs7_encrypted() -> None:
    for size in (0, 1, 15, 16, 17, 188 * 7):
        data = bytes(i % 251 for i in range(size))
        assert decrypt_aes128(encrypt_aes128(data, KEY, 42), KEY, segment_iv(
            Key("AES-128", KEY_URL, None), 42)) == data


def test_an_explicit_iv_wins_over_the_sequence_number() -> None:
    key = Key("AES-128", KEY_URL, bytes(15) + b"\x07")
    assert segment_iv(key, 99) == bytes(15) + b"\x07"
    assert segment_iv(Key("AES-128", KEY_URL, None), 258) == bytes(14) + b"\x01\x02"


def test_the_wrong_key_is_a_decode_error() -> None:
    encrypted = encrypt_aes128(b"x" * 100, KEY, 1)
    with pytest.raises(StreamDecodeError):
        decrypt_aes128(encrypted, bytes(16), (1).to_bytes(16, "big"))


def test_a_body_of_partial_blocks_is_a_decode_error() -> None:
    with pytest.raises(StreamDecodeError):
        decrypt_aes128(b"x" * 30, KEY, bytes(16))


@pytest.mark.parametrize(
    "key",
    [Key("SAMPLE-AES", None, None), Key("SAMPLE-AES-CTR", None, None),
     Key("AES-128", None, None, keyformat="com.apple.streamingkeydelivery")],
)
def test_sample_encryption_and_drm_key_formats_are_unsupported(key: Key) -> None:
    with pytest.raises(UnsupportedCapabilityError):
        check_method(key)


def test_the_key_cache_keeps_the_most_recently_used_keys() -> None:
    cache = KeyCache(2)
    cache.put("a", b"A" * 16)
    cache.put("b", b"B" * 16)
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", b"C" * 16)
    assert (cache.get("a"), cache.get("b"), len(cache)) == (b"A" * 16, None, 2)
    assert "AAAA" not in repr(cache)


def encrypted_vod(files: list[bytes], key_tag: str, first: int = 0) -> FakeFetcher:
    names = [f"s{i}.ts" for i in range(len(files))]
    fetcher = FakeFetcher({
        URL: media_playlist(names, first=first, ended=True, head=[key_tag]),
        KEY_URL: KEY,
    })
    for i, (name, data) in enumerate(zip(names, files, strict=True)):
        fetcher.resources[f"http://cam.test/{name}"] = encrypt_aes128(data, KEY, first + i)
    return fetcher


async def test_aes_128_segments_give_the_same_packets_as_clear_ones(ts_av: Path) -> None:
    files = segment_files(ts_av)[:4]
    clear = FakeFetcher({URL: media_playlist([f"s{i}.ts" for i in range(4)], ended=True)})
    for i, data in enumerate(files):
        clear.resources[f"http://cam.test/s{i}.ts"] = data
    _, expected, _ = await drain(HlsUpstream(URL, clear))
    fetcher = encrypted_vod(files, '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"', first=7)
    _, packets, _ = await drain(HlsUpstream(URL, fetcher))
    assert [(p.data, p.pts) for p in packets] == [(p.data, p.pts) for p in expected]
    assert fetcher.count(KEY_URL) == 1  # fetched once, then cached


async def test_a_key_that_is_not_16_bytes_is_a_protocol_error(ts_video: Path) -> None:
    fetcher = encrypted_vod(segment_files(ts_video)[:1],
                            '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"')
    fetcher.resources[KEY_URL] = KEY[:15]
    with pytest.raises(CameraProtocolError, match="16"):
        await HlsUpstream(URL, fetcher).start()


async def test_a_key_longer_than_16_bytes_is_refused_by_the_fetch_cap(ts_video: Path) -> None:
    fetcher = encrypted_vod(segment_files(ts_video)[:1],
                            '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"')
    fetcher.resources[KEY_URL] = KEY + b"!"
    with pytest.raises(CameraProtocolError):
        await HlsUpstream(URL, fetcher).start()


async def test_sample_aes_fails_at_start_without_fetching_segments(ts_video: Path) -> None:
    fetcher = encrypted_vod(
        segment_files(ts_video)[:1],
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://x",KEYFORMAT="com.apple.streamingkeydelivery"',
    )
    with pytest.raises(UnsupportedCapabilityError, match="SAMPLE-AES"):
        await HlsUpstream(URL, fetcher, scheme="hls+http").start()
    assert fetcher.calls == [URL]


async def test_a_live_stream_with_sample_aes_fails_at_once_too(ts_video: Path) -> None:
    text = media_playlist(["s0.ts"], head=['#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k"'])
    fetcher = FakeFetcher({URL: text})
    with pytest.raises(UnsupportedCapabilityError):
        await HlsUpstream(URL, fetcher).start()


async def test_an_encrypted_init_section_without_iv_is_a_protocol_error() -> None:
    fetcher = FakeFetcher({
        URL: media_playlist(["s0.m4s"], ended=True, head=[
            '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"', '#EXT-X-MAP:URI="init.mp4"']),
        KEY_URL: KEY,
    })
    with pytest.raises(CameraProtocolError, match="IV"):
        await HlsUpstream(URL, fetcher).start()


async def test_an_encrypted_init_section_is_decrypted_with_its_iv(fmp4_av: Path) -> None:
    init = (fmp4_av.parent / "init.mp4").read_bytes()
    segment = segment_files(fmp4_av)[0]
    iv = 5
    fetcher = FakeFetcher({
        URL: media_playlist(["s0.m4s"], ended=True, head=[
            '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x5', '#EXT-X-MAP:URI="init.mp4"']),
        KEY_URL: KEY,
        "http://cam.test/init.mp4": encrypt_aes128(init, KEY, iv),
        "http://cam.test/s0.m4s": encrypt_aes128(segment, KEY, iv),
    })
    info, packets, _ = await drain(HlsUpstream(URL, fetcher))
    assert info.codec == "h264" and len([p for p in packets if p.kind == "video"]) == 15
