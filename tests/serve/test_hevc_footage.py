"""Kept HEVC footage plays on Apple devices: tagged hvc1, with the camera's own VPS/SPS/PPS."""

from __future__ import annotations

from pathlib import Path

import anyio
import av
import pytest

import camsdk
from camsdk.serve import Gateway, SiteConfig
from camsdk.serve._footage import list_segments
from camsdk.testing import wait_until

from ._helpers import WAIT, site_config

pytestmark = pytest.mark.anyio

HEVC_PORCH = "virtual://gw-hevc-porch?size=320x240&fps=15&gop=15&codec=hevc"


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    """A site whose recorded camera streams HEVC."""
    return site_config(tmp_path, cameras=[{"name": "porch", "url": HEVC_PORCH, "record": True}],
                       areas={"street": ["porch"]})


def hevc_parameter_sets(annexb: bytes) -> list[bytes]:
    """The VPS, SPS and PPS NAL units of one Annex-B access unit."""
    units = [u.strip(b"\x00") for u in annexb.split(b"\x00\x00\x01")]
    return [u for u in units if u and (u[0] >> 1) & 0x3F in {32, 33, 34}]


async def test_kept_hevc_footage_is_tagged_hvc1_with_the_cameras_parameter_sets(
    gateway: Gateway,
) -> None:
    folder = gateway.inventory.footage_dir("porch")
    with anyio.fail_after(WAIT):
        await wait_until(lambda: len(list_segments(folder)) >= 2)
        async with camsdk.open(HEVC_PORCH) as cam, cam.stream() as stream, \
                stream.packets() as packets:
            async for item in packets:
                if isinstance(item, camsdk.MediaPacket) and item.keyframe:
                    camera_sets = hevc_parameter_sets(item.data)
                    break
    segment = list_segments(folder)[0]
    with av.open(str(segment.path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "hevc"
        assert video.codec_tag == "hvc1"
        extradata = bytes(video.codec_context.extradata or b"")
    assert len(camera_sets) == 3
    assert all(unit in extradata for unit in camera_sets)
