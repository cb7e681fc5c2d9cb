"""Software motion detection for cameras without device events (``cam.motion(...)``).

``async with cam.motion(zones=[...], fps=2) as detector`` analyses the
camera's grey frames by frame differencing against a slowly adapting
background, per zone, in a worker thread, and publishes MOTION events with
``vendor="camsdk"`` and ``extra["detector"] == "software"`` through the
camera's event pipeline. See ``docs/motion.md``.

- `_zones`: `MotionZone` (normalised polygon and name) and its raster;
- `_analysis`: `MotionAnalyzer`, the numpy part (downscale, gain/offset
  match, noise-aware threshold, per-zone areas, background update);
- `_tracker`: `MotionTracker`, per-zone start / update / end with ``hold``;
- `_detector`: `MotionDetector`, the async part (stream, thread, publishing).
"""

from ._analysis import FrameAnalysis, MotionAnalyzer, ZoneMotion
from ._detector import MotionDetector, MotionSettings, MotionStats, detector_for
from ._tracker import MotionTracker
from ._zones import MotionZone

__all__ = [
    "FrameAnalysis",
    "MotionAnalyzer",
    "MotionDetector",
    "MotionSettings",
    "MotionStats",
    "MotionTracker",
    "MotionZone",
    "ZoneMotion",
    "detector_for",
]
