"""M3U8 parsing: what playlists say, which URIs are refused, and that garbage stays bounded."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camsdk import CameraProtocolError, RedirectRefusedError
from camsdk._hls import (
    ByteRange,
    HlsLimits,
    MasterPlaylist,
    MediaPlaylist,
    check_host,
    parse_playlist,
    resolve_uri,
)

BASE = "https://cam.example/live/index.m3u8?token=s3cr3t"


def media(text: str, url: str = BASE) -> MediaPlaylist:
    playlist = parse_playlist(text, url)
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def test_media_playlist_numbers_its_segments_from_the_media_sequence() -> None:
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41\n"
        "#EXTINF:2.000,\na.ts\n#EXTINF:1.5,title\n/b/b.ts?x=1\n"
    )
    assert playlist.target_duration == 2.0
    assert [s.sequence for s in playlist.segments] == [41, 42]
    assert [s.duration for s in playlist.segments] == [2.0, 1.5]
    assert [s.uri for s in playlist.segments] == [
        "https://cam.example/live/a.ts",
        "https://cam.example/b/b.ts?x=1",
    ]
    assert playlist.live and not playlist.master


@pytest.mark.parametrize(
    ("tags", "live"),
    [
        ("#EXT-X-ENDLIST\n", False),
        ("#EXT-X-PLAYLIST-TYPE:VOD\n", False),
        ("#EXT-X-PLAYLIST-TYPE:EVENT\n", True),
        ("", True),
    ],
)
def test_live_means_no_endlist_and_not_vod(tags: str, live: bool) -> None:
    assert media(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n{tags}").live is live


def test_master_playlist_lists_variants_and_renditions() -> None:
    playlist = parse_playlist(
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",DEFAULT=YES,URI="en.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",'
        'AUDIO="aac",FRAME-RATE=29.970\nlo.m3u8\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=900000, RESOLUTION=1920x1080\nhi/index.m3u8\n",
        BASE,
    )
    assert isinstance(playlist, MasterPlaylist)
    lo, hi = playlist.variants
    assert (lo.width, lo.height, lo.codecs, lo.audio, lo.frame_rate) == (
        640, 360, "avc1.4d401e,mp4a.40.2", "aac", 29.97
    )
    assert (hi.bandwidth, hi.width) == (900000, 1920)
    assert [v.uri for v in playlist.by_bandwidth()] == [
        "https://cam.example/live/hi/index.m3u8",
        "https://cam.example/live/lo.m3u8",
    ]
    (audio,) = playlist.renditions
    assert (audio.type, audio.group_id, audio.default) == ("AUDIO", "aac", True)
    assert audio.uri == "https://cam.example/live/en.m3u8"


def test_discontinuities_are_flagged_and_counted() -> None:
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-DISCONTINUITY-SEQUENCE:7\n"
        "#EXTINF:1,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1,\nb.ts\n#EXTINF:1,\nc.ts\n"
    )
    assert [(s.discontinuity, s.discontinuity_sequence) for s in playlist.segments] == [
        (False, 7), (True, 8), (False, 8)
    ]


def test_keys_apply_until_the_next_key_tag() -> None:
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
        '#EXT-X-KEY:METHOD=AES-128,URI="k1.bin",IV=0x0102\n#EXTINF:1,\na.ts\n'
        '#EXT-X-KEY:METHOD=AES-128,URI="https://cam.example/k2"\n#EXTINF:1,\nb.ts\n'
        "#EXT-X-KEY:METHOD=NONE\n#EXTINF:1,\nc.ts\n"
    )
    a, b, c = (s.key for s in playlist.segments)
    assert a is not None and a.uri == "https://cam.example/live/k1.bin"
    assert a.iv == bytes(14) + b"\x01\x02"
    assert b is not None and b.iv is None and b.uri == "https://cam.example/k2"
    assert c is None


def test_drm_keys_are_kept_but_never_given_a_fetchable_uri() -> None:
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://fairplay-key",KEYFORMAT="com.apple.streamingkeydelivery"\n'
        "#EXTINF:1,\na.ts\n"
    )
    key = playlist.segments[0].key
    assert key is not None and key.method == "SAMPLE-AES" and key.uri is None


def test_init_sections_and_byte_ranges() -> None:
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
        '#EXT-X-MAP:URI="all.mp4",BYTERANGE="720@0"\n'
        "#EXTINF:1,\n#EXT-X-BYTERANGE:1000@720\nall.mp4\n"
        "#EXTINF:1,\n#EXT-X-BYTERANGE:500\nall.mp4\n"
    )
    first, second = playlist.segments
    assert first.init is not None and first.init.byte_range == ByteRange(720, 0)
    assert first.byte_range == ByteRange(1000, 720)
    assert second.byte_range == ByteRange(500, 1720)  # continues the previous range


def test_a_byte_range_without_offset_needs_a_previous_range() -> None:
    with pytest.raises(CameraProtocolError):
        media("#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:500\na.ts\n")


def test_gap_and_program_date_time() -> None:
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXTINF:2,\na.ts\n"
        "#EXT-X-GAP\n#EXTINF:2,\nb.ts\n"
    )
    a, b = playlist.segments
    assert a.program_date_time == 1714564800.0
    assert b.program_date_time == 1714564802.0  # derived from the previous one
    assert b.gap and not a.gap


def test_missing_target_duration_is_taken_from_the_segments() -> None:
    assert media("#EXTM3U\n#EXTINF:2.4,\na.ts\n").target_duration == 3.0


def test_byte_order_mark_and_crlf_are_accepted() -> None:
    playlist = media("\ufeff#EXTM3U\r\n#EXTINF:1,\r\na.ts\r\n")
    assert len(playlist.segments) == 1


def test_unknown_tags_and_comments_are_ignored() -> None:
    playlist = media("#EXTM3U\n# a comment\n#EXT-X-FUTURE-TAG:X=1\n#EXTINF:1,\na.ts\n")
    assert len(playlist.segments) == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<html><body>login</body></html>",
        "#EXTINF:1,\na.ts\n",  # no #EXTM3U
    ],
)
def test_a_body_that_is_not_a_playlist_is_refused(text: str) -> None:
    with pytest.raises(CameraProtocolError, match="EXTM3U"):
        parse_playlist(text, BASE)


@pytest.mark.parametrize(
    "line",
    [
        "#EXTINF:abc,",
        "#EXTINF:nan,",
        "#EXTINF:inf,",
        "#EXTINF:-1,",
        "#EXTINF:99999999,",
        "#EXT-X-TARGETDURATION:soon",
        "#EXT-X-MEDIA-SEQUENCE:-1",
        "#EXT-X-MEDIA-SEQUENCE:99999999999999999999",
        '#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0xZZ',
        "#EXT-X-KEY:URI=k",
        "#EXT-X-KEY:METHOD=AES-128",
        "#EXT-X-MAP:BYTERANGE=10",
        '#EXT-X-MAP:URI="a"junk',
        "#EXT-X-PLAYLIST-TYPE:FOREVER",
        "#EXT-X-MEDIA:NAME=x",
    ],
)
def test_malformed_tags_are_protocol_errors(line: str) -> None:
    with pytest.raises(CameraProtocolError):
        parse_playlist(f"#EXTM3U\n{line}\n#EXTINF:1,\na.ts\n", BASE)


def test_a_segment_uri_without_extinf_is_refused() -> None:
    with pytest.raises(CameraProtocolError, match="EXTINF"):
        media("#EXTM3U\n#EXT-X-TARGETDURATION:1\na.ts\n")


def test_variants_and_segments_together_are_refused() -> None:
    with pytest.raises(CameraProtocolError):
        parse_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\na.ts\n", BASE)


# -- URIs ------------------------------------------------------------------------------------

REFUSED = [
    "file:///etc/passwd",
    "data:video/mp2t;base64,R0lGOD==",
    "FILE:/etc/shadow",
    "concat:a.ts|b.ts",
    "javascript:alert(1)",
    "c:/windows/system32",
    "ftp://cam.example/a.ts",
    "https://user:pw@cam.example/a.ts",
    "http:///no-host.ts",
]


@pytest.mark.parametrize("uri", REFUSED)
@pytest.mark.parametrize(
    "template",
    [
        "#EXTINF:1,\n{uri}\n",
        '#EXT-X-KEY:METHOD=AES-128,URI="{uri}"\n#EXTINF:1,\na.ts\n',
        '#EXT-X-MAP:URI="{uri}"\n#EXTINF:1,\na.ts\n',
        "#EXT-X-STREAM-INF:BANDWIDTH=1\n{uri}\n",
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="a",URI="{uri}"\n',
    ],
    ids=["segment", "key", "map", "variant", "rendition"],
)
def test_non_http_uris_are_refused_wherever_they_appear(uri: str, template: str) -> None:
    with pytest.raises(CameraProtocolError):
        parse_playlist("#EXTM3U\n" + template.format(uri=uri), BASE)


def test_an_https_playlist_may_not_point_at_plain_http() -> None:
    with pytest.raises(RedirectRefusedError) as caught:
        media("#EXTM3U\n#EXTINF:1,\nhttp://cam.example/a.ts?token=s3cr3t\n")
    assert "s3cr3t" not in str(caught.value) + caught.value.location


def test_an_http_playlist_may_point_at_https() -> None:
    playlist = media("#EXTM3U\n#EXTINF:1,\nhttps://cam.example/a.ts\n", "http://cam.example/x")
    assert playlist.segments[0].uri == "https://cam.example/a.ts"


def test_control_characters_in_uris_are_refused() -> None:
    with pytest.raises(CameraProtocolError):
        resolve_uri(BASE, "a.ts\x00.mp4")


def test_relative_uris_resolve_like_urljoin() -> None:
    for uri, expected in [
        ("seg-1.ts", "https://cam.example/live/seg-1.ts"),
        ("seg.ts?a=b", "https://cam.example/live/seg.ts?a=b"),
        ("../x/seg.ts", "https://cam.example/x/seg.ts"),
        ("/abs.ts", "https://cam.example/abs.ts"),
        ("//cdn.example/a.ts", "https://cdn.example/a.ts"),
        (".hidden.ts", "https://cam.example/live/.hidden.ts"),
    ]:
        assert resolve_uri(BASE, uri) == expected


def test_check_host_refuses_hosts_the_caller_did_not_name() -> None:
    check_host("https://cam.example/a.ts", {"cam.example"})
    with pytest.raises(RedirectRefusedError):
        check_host("https://cdn.example/a.ts", {"cam.example"})


def test_reprs_do_not_show_uris_or_their_tokens() -> None:
    playlist = media("#EXTM3U\n#EXTINF:1,\na.ts?token=s3cr3t\n")
    assert "s3cr3t" not in repr(playlist)
    assert "a.ts" not in repr(playlist.segments[0])


# -- bounds ----------------------------------------------------------------------------------


def test_limits_bound_size_lines_segments_and_variants() -> None:
    limits = HlsLimits(max_playlist_bytes=200, max_line_chars=50, max_segments=2,
                       max_variants=1)
    with pytest.raises(CameraProtocolError, match="larger"):
        parse_playlist("#EXTM3U\n" + "#" * 300, BASE, limits=limits)
    with pytest.raises(CameraProtocolError, match="longer"):
        parse_playlist("#EXTM3U\n#EXTINF:1,\n" + "a" * 60 + "\n", BASE, limits=limits)
    with pytest.raises(CameraProtocolError, match="segments"):
        parse_playlist("#EXTM3U\n" + "#EXTINF:1,\na.ts\n" * 3, BASE, limits=limits)
    with pytest.raises(CameraProtocolError, match="variants"):
        parse_playlist("#EXTM3U\n" + "#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n" * 2, BASE,
                       limits=limits)


def test_bytes_beyond_the_limit_are_refused_before_decoding() -> None:
    with pytest.raises(CameraProtocolError, match="larger"):
        parse_playlist(b"#EXTM3U\n" + b"\xff" * 2_000_000, BASE)


def test_long_attribute_lists_parse_and_an_unterminated_quote_is_refused() -> None:
    attrs = ",".join(f"X{i}=1" for i in range(7_000))  # ~60 kB, just under the line limit
    playlist = parse_playlist(f"#EXTM3U\n#EXT-X-STREAM-INF:{attrs}\nv.m3u8\n", BASE)
    assert isinstance(playlist, MasterPlaylist)
    with pytest.raises(CameraProtocolError):
        parse_playlist('#EXTM3U\n#EXT-X-MAP:URI="' + "a" * 60_000 + "\n", BASE)


_TAGS = [
    "#EXTINF:", "#EXT-X-TARGETDURATION:", "#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-KEY:",
    "#EXT-X-MAP:", "#EXT-X-BYTERANGE:", "#EXT-X-DISCONTINUITY", "#EXT-X-ENDLIST",
    "#EXT-X-STREAM-INF:", "#EXT-X-MEDIA:", "#EXT-X-PLAYLIST-TYPE:", "#EXT-X-GAP",
    "#EXT-X-PROGRAM-DATE-TIME:", "#EXT-X-DISCONTINUITY-SEQUENCE:", "", "#",
]
_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "1", "0.5,", "-1", "1e9", "0x00112233445566778899aabbccddeeff", "10@0", "10",
        'METHOD=AES-128,URI="k"', 'METHOD=SAMPLE-AES,URI="skd://x"', 'URI="i.mp4"',
        'URI="data:x"', "BANDWIDTH=1,RESOLUTION=1x1", "VOD", "EVENT", "2024-01-01T00:00:00Z",
        'TYPE=AUDIO,GROUP-ID="a",NAME="b"', "file:///etc/passwd", "a.ts", "../b.ts",
        "//other.example/c.ts", "http://cam.example/d.ts",
    ]),
)
_LINES = st.lists(st.tuples(st.sampled_from(_TAGS), _VALUES).map("".join), max_size=40)
_FUZZ = settings(max_examples=300, deadline=2000,
                 suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.text(max_size=2000))
def test_arbitrary_text_parses_or_is_a_protocol_error(text: str) -> None:
    try:
        parse_playlist(text, BASE)
    except CameraProtocolError:
        pass


@_FUZZ
@given(_LINES)
def test_tag_soup_parses_or_is_a_protocol_error(lines: list[str]) -> None:
    try:
        playlist = parse_playlist("#EXTM3U\n" + "\n".join(lines), BASE)
    except CameraProtocolError:
        return
    uris = (
        [v.uri for v in playlist.variants]
        if isinstance(playlist, MasterPlaylist)
        else [s.uri for s in playlist.segments]
    )
    assert all(u.startswith("https://") for u in uris)  # nothing else survives parsing


@_FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_are_a_protocol_error(data: bytes) -> None:
    try:
        parse_playlist(b"#EXTM3U\n" + data, BASE)
    except CameraProtocolError:
        pass
