"""Privacy masks: validation, exact rasterisation, black fill per pixel format, caching."""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import pytest
from pydantic import ValidationError

from camsdk._errors import StreamDecodeError
from camsdk.privacy import MaskSet, PrivacyMask
from camsdk.privacy import _masks as masks_module

LEFT_HALF = PrivacyMask.rectangle(0.0, 0.0, 0.5, 1.0, label="left half")
GREY = 200


def grey_frame(fmt: str, width: int = 64, height: int = 48) -> av.VideoFrame:
    rgb = np.full((height, width, 3), GREY, dtype=np.uint8)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)


def planes(frame: av.VideoFrame) -> list[bytes]:
    return [bytes(p) for p in frame.planes]


# -- validation -------------------------------------------------------------------------------


def test_mask_needs_three_points() -> None:
    with pytest.raises(ValidationError):
        PrivacyMask(points=((0, 0), (1, 1)))


def test_mask_points_must_be_normalised() -> None:
    with pytest.raises(ValidationError, match=r"outside 0\.\.1"):
        PrivacyMask(points=((0, 0), (1.5, 0), (0, 1)))


def test_mask_points_must_be_finite() -> None:
    with pytest.raises(ValidationError):
        PrivacyMask(points=((0, 0), (float("nan"), 0), (0, 1)))


def test_collinear_mask_is_rejected() -> None:
    with pytest.raises(ValidationError, match="no area"):
        PrivacyMask(points=((0, 0), (0.5, 0.5), (1, 1)))


def test_mask_is_immutable_and_hashable() -> None:
    assert hash(LEFT_HALF) == hash(PrivacyMask.rectangle(0.0, 0.0, 0.5, 1.0, label="left half"))
    with pytest.raises(ValidationError):
        LEFT_HALF.label = "x"  # type: ignore[misc]


def test_mask_set_accepts_only_masks() -> None:
    with pytest.raises(TypeError):
        MaskSet([((0, 0), (1, 0), (0, 1))])  # type: ignore[list-item]


# -- rasterisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (64, 48), (2, 2)])
def test_left_half_mask_covers_exactly_the_left_half(width: int, height: int) -> None:
    mask = MaskSet([LEFT_HALF]).mask(width, height)
    assert mask[:, : width // 2].all()
    assert not mask[:, width // 2 :].any()


def test_triangle_covers_about_half_the_picture() -> None:
    triangle = PrivacyMask(points=((0, 0), (1, 0), (0, 1)))
    mask = MaskSet([triangle]).mask(400, 300)
    assert mask.mean() == pytest.approx(0.5, abs=0.005)
    assert mask[0, 0] and not mask[-1, -1]


def test_concave_polygon_leaves_its_notch_unmasked() -> None:
    # A "U": two columns joined at the bottom.
    u_shape = PrivacyMask(
        points=((0.0, 0.0), (0.3, 0.0), (0.3, 0.7), (0.7, 0.7), (0.7, 0.0), (1.0, 0.0),
                (1.0, 1.0), (0.0, 1.0))
    )  # fmt: skip
    mask = MaskSet([u_shape]).mask(100, 100)
    assert not mask[10:65, 35:65].any()
    assert mask[10:65, :25].all() and mask[75:, :].all()


def test_several_masks_are_united() -> None:
    left = PrivacyMask.rectangle(0, 0, 0.25, 1)
    right = PrivacyMask.rectangle(0.75, 0, 1, 1)
    mask = MaskSet([left, right]).mask(100, 10)
    assert mask[:, :25].all() and mask[:, 75:].all() and not mask[:, 25:75].any()


# -- frames ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj420p", "nv12", "yuv422p", "yuv444p", "rgb24",
                                 "bgr24", "rgba", "gray"])  # fmt: skip
def test_masked_half_is_black_and_the_other_half_untouched(fmt: str) -> None:
    out = MaskSet([LEFT_HALF]).apply(grey_frame(fmt)).to_ndarray(format="rgb24")
    assert out[:, :32].max() <= 2
    assert np.abs(out[:, 32:].astype(int) - GREY).max() <= 3
    assert out.shape == (48, 64, 3)


def test_limited_range_yuv_is_filled_with_video_black() -> None:
    frame = MaskSet([LEFT_HALF]).apply(grey_frame("yuv420p"))
    y = frame.to_ndarray()[:48]  # yuv420p as ndarray: Y rows, then U and V
    assert (y[:, :32] == 16).all()
    assert (np.frombuffer(bytes(frame.planes[1]), np.uint8).reshape(24, -1)[:, :16] == 128).all()


def test_full_range_yuv_is_filled_with_zero_luma() -> None:
    frame = MaskSet([LEFT_HALF]).apply(grey_frame("yuvj420p"))
    y = np.frombuffer(bytes(frame.planes[0]), np.uint8).reshape(48, -1)[:, :64]
    assert (y[:, :32] == 0).all()


def test_rgb_and_gray_are_filled_with_zero() -> None:
    rgb = MaskSet([LEFT_HALF]).apply(grey_frame("rgb24")).to_ndarray()
    gray = MaskSet([LEFT_HALF]).apply(grey_frame("gray")).to_ndarray()
    assert (rgb[:, :32] == 0).all() and (gray[:, :32] == 0).all()


def test_frame_is_not_modified_in_place() -> None:
    frame = grey_frame("yuv420p")
    before = planes(frame)
    out = MaskSet([LEFT_HALF]).apply(frame)
    assert out is not frame
    assert planes(frame) == before


def test_in_place_masks_the_given_frame_and_returns_it() -> None:
    frame = grey_frame("rgb24")
    out = MaskSet([LEFT_HALF]).apply(frame, in_place=True)
    assert out is frame
    assert frame.to_ndarray()[:, :32].max() == 0


def test_frame_timing_is_kept() -> None:
    from fractions import Fraction

    frame = grey_frame("yuv420p")
    frame.pts, frame.time_base = 1234, Fraction(1, 90000)
    out = MaskSet([LEFT_HALF]).apply(frame)
    assert (out.pts, out.time_base) == (1234, Fraction(1, 90000))


def test_odd_sized_frame_masks_chroma_that_touches_the_mask() -> None:
    out = MaskSet([LEFT_HALF]).apply(grey_frame("yuv420p", 63, 47)).to_ndarray(format="rgb24")
    assert out[:, :31].max() <= 2


def test_unsupported_format_is_converted_then_masked() -> None:
    out = MaskSet([LEFT_HALF]).apply(grey_frame("yuv420p10le"))
    assert out.format.name == "yuv420p"
    assert out.to_ndarray(format="rgb24")[:, :32].max() <= 2


def test_empty_mask_set_returns_the_frame_itself() -> None:
    frame = grey_frame("yuv420p")
    assert MaskSet().apply(frame) is frame


# -- caching --------------------------------------------------------------------------------------


def test_rasterised_mask_is_cached_across_mask_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    original = masks_module.rasterize

    def counting(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(masks_module, "rasterize", counting)
    unique = PrivacyMask.rectangle(0.1, 0.1, 0.3, 0.3, label="cache-test")
    for _ in range(3):
        MaskSet([unique]).apply(grey_frame("yuv420p"))
    MaskSet([unique]).apply(grey_frame("rgb24"))
    assert len(calls) == 1


def test_cached_mask_is_read_only() -> None:
    mask = MaskSet([LEFT_HALF]).mask(64, 48)
    assert mask is MaskSet([LEFT_HALF]).mask(64, 48)
    with pytest.raises(ValueError):
        mask[0, 0] = False


def test_new_size_gets_its_own_mask() -> None:
    masks = MaskSet([LEFT_HALF])
    assert masks.mask(64, 48).shape == (48, 64)
    assert masks.mask(32, 16).shape == (16, 32)


# -- arrays and JPEG ---------------------------------------------------------------------------


def test_apply_ndarray_returns_a_masked_copy() -> None:
    image = np.full((10, 20, 3), GREY, dtype=np.uint8)
    out = MaskSet([LEFT_HALF]).apply_ndarray(image)
    assert (out[:, :10] == 0).all() and (out[:, 10:] == GREY).all()
    assert (image == GREY).all()


def test_apply_ndarray_takes_a_fill_value() -> None:
    out = MaskSet([LEFT_HALF]).apply_ndarray(np.zeros((4, 4), np.float32), fill=-1.0)
    assert (out[:, :2] == -1.0).all()


def encode_jpeg(frame: av.VideoFrame) -> bytes:
    from camsdk.privacy._masks import _encode_jpeg

    return _encode_jpeg(frame.reformat(format="yuvj420p"), "yuvj420p", 2)


def decode_jpeg(data: bytes) -> np.ndarray[Any, Any]:
    frame = av.CodecContext.create("mjpeg", "r").decode(av.Packet(data))[0]
    return frame.to_ndarray(format="rgb24")  # type: ignore[union-attr]


def test_apply_jpeg_blacks_out_the_mask() -> None:
    jpeg = encode_jpeg(grey_frame("rgb24", 128, 96))
    out = decode_jpeg(MaskSet([LEFT_HALF]).apply_jpeg(jpeg))
    assert out.shape == (96, 128, 3)
    assert out[:, :60].max() <= 4
    assert np.abs(out[:, 68:].astype(int) - GREY).max() <= 6


def test_apply_jpeg_refuses_undecodable_input() -> None:
    with pytest.raises(StreamDecodeError):
        MaskSet([LEFT_HALF]).apply_jpeg(b"\xff\xd8 definitely not a jpeg")
