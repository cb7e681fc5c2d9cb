"""`MotionAnalyzer` on synthetic grey pictures: what counts as motion and what does not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from camsdk import MotionZone
from camsdk._motion._analysis import MotionAnalyzer, downscale, luma_threshold
from camsdk._motion._zones import zone_raster

from ._scenes import HEIGHT, WIDTH, picture, textured_view, with_square

LEFT = MotionZone.rectangle(0.0, 0.0, 0.5, 1.0, "left")
RIGHT = MotionZone.rectangle(0.5, 0.0, 1.0, 1.0, "right")
STEP = 0.5  # seconds between analysed frames (2 fps)


def analyzer(sensitivity: float = 0.5, min_area: float = 0.01, **kw: object) -> MotionAnalyzer:
    return MotionAnalyzer([LEFT, RIGHT], sensitivity=sensitivity, min_area=min_area, **kw)  # type: ignore[arg-type]


def settled(
    detector: MotionAnalyzer, view: np.ndarray, frames: int = 6, noise: float = 1.0
) -> float:
    """Feed ``frames`` still pictures of ``view``; return the time of the last one."""
    for i in range(frames):
        detector.analyse(picture(view, noise=noise, seed=1000 + i), i * STEP)
    return (frames - 1) * STEP


def test_the_first_frame_only_starts_the_background() -> None:
    result = analyzer().analyse(picture(textured_view()), 0.0)
    assert result.state == "warmup"
    assert [z.moving for z in result.zones] == [False, False]


def test_sensor_noise_and_block_artefacts_are_not_motion_at_default_sensitivity() -> None:
    view = textured_view()
    detector = analyzer()
    results = [
        detector.analyse(picture(view, noise=6.0, blocks=3.0, seed=i), i * STEP) for i in range(60)
    ]
    assert not any(z.moving for r in results for z in r.zones)
    assert all(r.state != "global_change" for r in results)


def test_a_square_moving_in_a_zone_is_motion_in_that_zone_only() -> None:
    view = textured_view()
    detector = analyzer()
    t = settled(detector, view)
    results = []
    for i, x in enumerate((0.1, 0.2, 0.3, 0.4)):
        frame = picture(with_square(view, x, 0.5), noise=1.0, seed=i)
        results.append(detector.analyse(frame, t + (i + 1) * STEP))
    assert all(r.zones[0].moving for r in results)
    assert not any(r.zones[1].moving for r in results)


def test_the_region_bounds_the_changed_pixels() -> None:
    view = textured_view()
    detector = analyzer()
    t = settled(detector, view)
    result = detector.analyse(picture(with_square(view, 0.25, 0.5), noise=1.0), t + STEP)
    region = result.zones[0].region
    assert region is not None
    x0, y0, x1, y1 = region
    side_x, side_y = 0.15 * HEIGHT / WIDTH / 2, 0.15 / 2
    assert x0 == pytest.approx(0.25 - side_x, abs=0.02)
    assert x1 == pytest.approx(0.25 + side_x, abs=0.02)
    assert y0 == pytest.approx(0.5 - side_y, abs=0.03)
    assert y1 == pytest.approx(0.5 + side_y, abs=0.03)


def test_a_brightness_step_is_not_motion() -> None:
    view = textured_view()
    detector = analyzer()
    t = settled(detector, view)
    result = detector.analyse(picture(view, noise=1.0, offset=40.0), t + STEP)
    assert result.state == "analysed"
    assert [z.moving for z in result.zones] == [False, False]


def test_lights_going_on_gain_and_offset_is_not_motion() -> None:
    view = textured_view()
    detector = analyzer()
    t = settled(detector, view)
    result = detector.analyse(picture(view, noise=1.0, gain=1.3, offset=5.0), t + STEP)
    assert result.state == "analysed"
    assert [z.moving for z in result.zones] == [False, False]


def test_a_square_is_still_seen_in_the_frame_where_the_lights_go_on() -> None:
    view = textured_view()
    detector = analyzer()
    t = settled(detector, view)
    lit = picture(with_square(view, 0.75, 0.5, value=None, delta=60.0), gain=1.3, offset=5.0)
    result = detector.analyse(lit, t + STEP)
    assert [z.moving for z in result.zones] == [False, True]


def test_a_global_change_restarts_the_background_instead_of_reporting_motion() -> None:
    view = textured_view()
    detector = analyzer()
    t = settled(detector, view)
    turned = np.roll(view, WIDTH // 4, axis=1)  # the camera was turned by a quarter view
    changed = detector.analyse(picture(turned, noise=1.0), t + STEP)
    after = detector.analyse(picture(turned, noise=1.0, seed=7), t + 2 * STEP)
    assert changed.state == "global_change"
    assert not any(z.moving for z in changed.zones)
    assert after.state == "analysed"
    assert not any(z.moving for z in after.zones)


def test_higher_sensitivity_reports_a_fainter_change() -> None:
    view = textured_view()
    faint = with_square(view, 0.25, 0.5, side=0.3, value=None, delta=9.0)
    seen = {}
    for sensitivity in (0.5, 0.9):
        detector = analyzer(sensitivity=sensitivity)
        t = settled(detector, view)
        seen[sensitivity] = detector.analyse(picture(faint, noise=1.0), t + STEP).zones[0].moving
    assert seen == {0.5: False, 0.9: True}


def test_a_change_smaller_than_min_area_is_measured_but_not_motion() -> None:
    view = textured_view()
    detector = analyzer(min_area=0.05)
    t = settled(detector, view)
    result = detector.analyse(picture(with_square(view, 0.25, 0.5, side=0.1), noise=1.0), t + STEP)
    zone = result.zones[0]
    assert 0.0 < zone.area < 0.05
    assert not zone.moving


def test_an_object_that_stops_is_absorbed_into_the_background() -> None:
    view = textured_view()
    parked = with_square(view, 0.25, 0.5)
    detector = analyzer()
    t = settled(detector, view)
    moving = [
        detector.analyse(picture(parked, noise=1.0, seed=i), t + 1.0 + i).zones[0].moving
        for i in range(120)  # two minutes at one frame a second
    ]
    assert moving[0]
    assert not moving[-1]


def test_a_passing_object_leaves_no_trail() -> None:
    view = textured_view()
    detector = analyzer()
    t = settled(detector, view)
    for i, x in enumerate(np.linspace(0.05, 0.45, 9)):
        detector.analyse(picture(with_square(view, float(x), 0.5), noise=1.0, seed=i), t + i + 1.0)
    gone = detector.analyse(picture(view, noise=1.0, seed=99), t + 11.0)
    assert not gone.zones[0].moving


def test_a_new_picture_size_restarts_the_background() -> None:
    detector = analyzer()
    settled(detector, textured_view())
    result = detector.analyse(np.full((120, 160), 80, dtype=np.uint8), 10.0)
    assert result.state == "warmup"


def test_without_zones_the_whole_picture_is_one_zone() -> None:
    view = textured_view()
    detector = MotionAnalyzer([], sensitivity=0.5, min_area=0.01)
    t = settled(detector, view)
    result = detector.analyse(picture(with_square(view, 0.8, 0.2), noise=1.0), t + STEP)
    assert len(result.zones) == 1
    assert result.zones[0].moving


@pytest.mark.parametrize("shape", [(360, 640), (1080, 1920), (90, 160), (101, 333), (2160, 3840)])
def test_downscale_averages_whole_blocks_to_about_160_columns(shape: tuple[int, int]) -> None:
    gray = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    k = max(1, shape[1] // 160)
    h, w = shape[0] // k, shape[1] // k
    expected = gray[: h * k, : w * k].reshape(h, k, w, k).mean(axis=(1, 3))
    np.testing.assert_allclose(downscale(gray), expected, atol=1e-3)


def test_a_zone_smaller_than_a_pixel_still_watches_one() -> None:
    tiny = MotionZone.rectangle(0.5, 0.5, 0.501, 0.501, "keyhole")
    assert zone_raster(tiny, 160, 90).sum() == 1


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 50.0, allow_nan=False))
def test_the_threshold_never_rises_with_sensitivity(a: float, b: float, noise: float) -> None:
    low, high = sorted((a, b))
    assert luma_threshold(high, noise) <= luma_threshold(low, noise)
