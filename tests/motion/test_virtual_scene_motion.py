"""The virtual camera's still scene and scripted motion (``scene=still&motion=1s-3s@box``)."""

from __future__ import annotations

import numpy as np
import pytest

from camsdk import ConfigurationError
from camsdk.drivers.virtual import ScriptedMotion, VirtualOptions
from camsdk.drivers.virtual._scene import LoopParams, _params_json, _SceneRenderer

W, H, FPS = 320, 180, 10


def luma(renderer: _SceneRenderer, i: int) -> np.ndarray:
    return renderer.render(i)[:H].astype(np.int16)


def test_the_motion_option_reads_and_renders_back_as_url_text() -> None:
    options = VirtualOptions.from_query({"scene": "still", "motion": "1s-3s@0,0,0.5,1"})
    assert options.motion == ScriptedMotion(1.0, 3.0, (0.0, 0.0, 0.5, 1.0))
    assert VirtualOptions.from_query(options.to_query()) == options


@pytest.mark.parametrize(
    "spec",
    ["3s-1s", "1s", "1s-3s@0,0,2,1", "1s-3s@a,b,c,d", "1s-3s@0,0,1", "1s-9s", "x-3s"],
)
def test_a_bad_motion_spec_is_a_configuration_error(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        VirtualOptions.from_query({"motion": spec, "loop_seconds": "4"})


def test_an_unknown_scene_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        VirtualOptions.from_query({"scene": "beach"})


def test_in_the_still_scene_frames_differ_only_by_sensor_noise() -> None:
    renderer = _SceneRenderer(W, H, FPS, 40, scene="still")
    difference = luma(renderer, 25) - luma(renderer, 3)
    assert 2.0 < difference.std() < 8.0  # two frames of sigma-3 noise, nothing else
    assert np.abs(difference).max() < 40


def test_the_scripted_square_shows_only_in_its_window_and_box() -> None:
    motion = ScriptedMotion(1.0, 3.0, (0.0, 0.0, 0.5, 1.0))
    renderer = _SceneRenderer(W, H, FPS, 40, scene="still", motion=motion)
    plain = _SceneRenderer(W, H, FPS, 40, scene="still")
    before, during, after = (np.abs(luma(renderer, i) - luma(plain, i)) for i in (9, 20, 30))
    assert before.max() == 0 and after.max() == 0
    changed = np.argwhere(during > 0)
    assert len(changed) > 0
    assert changed[:, 1].max() < W // 2  # inside the left half


def test_the_motion_onset_is_the_first_frame_of_the_window() -> None:
    params = LoopParams(
        W, H, FPS, gop=10, seconds=4.0, scene="still", motion=ScriptedMotion(1.25, 3.0)
    )
    assert params.motion_onset == 13


def test_the_default_scene_keeps_its_cache_key() -> None:
    assert set(_params_json(LoopParams())) == {
        "width", "height", "fps", "codec", "gop", "bitrate", "audio", "seconds"
    }  # fmt: skip
