"""Long-running controls of a bridged camera: the software motion and privacy mode
switches, and stream stats.

Each runs as a worker of the camera's `CameraLink`; each goes through the
camera's own API, so its access policy decides them (``frames`` for the
motion detector, ``config`` for privacy mode, ``stream.open`` for the stats)
and its audit log records them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from .._errors import AccessDeniedError, CamError, UnsupportedCapabilityError
from .._events import raise_if_cancelling
from .._log import get_logger, scrub
from ._types import PrivacyModeCamera, SoftwareMotionCamera

if TYPE_CHECKING:  # pragma: no cover
    from ._mqtt_link import CameraLink

__all__ = ["MotionSwitch", "PrivacySwitch", "StreamWatch", "error_code"]

_log = get_logger("camsdk.sinks.mqtt")

_ON = frozenset({b"ON", b"on", b"On"})
_OFF = frozenset({b"OFF", b"off", b"Off"})


def error_code(exc: BaseException) -> str:
    """The ``error`` value reported for a failed command."""
    if isinstance(exc, UnsupportedCapabilityError):
        return "unsupported"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, CamError):
        return "camera_error"
    return "internal_error"


class MotionSwitch:
    """The "software motion" switch: ``ON`` holds ``cam.motion(...)`` open, ``OFF`` closes it.

    The state topic says whether the detector is running, not what was asked:
    it turns ``OFF`` while the camera is offline (and back ``ON`` when the
    detector restarts), and stays ``OFF`` after a start that failed (the
    reason goes to ``error``); switch it on again to retry.
    """

    def __init__(self, link: CameraLink, cam: SoftwareMotionCamera) -> None:
        self.link = link
        self.cam = cam
        #: Asked for by the last command.
        self.wanted = False
        #: The detector is running.
        self.running = False
        #: Detector starts that succeeded (for tests and stats).
        self.starts = 0

    def command(self, payload: bytes) -> None:
        """Handle a ``software_motion/set`` payload (``ON`` or ``OFF``)."""
        text = payload.strip()
        if text in _ON:
            self.wanted = True
        elif text in _OFF:
            self.wanted = False
        else:
            self.link.report_error(
                "software_motion/set", "invalid_command", 'payload must be "ON" or "OFF"'
            )
            return
        self.link.notify()

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.link.publish_motion_state(running)

    async def run(self) -> None:
        """Start and stop the detector as asked, until cancelled."""
        link = self.link
        options = link.options
        self._set_running(False)
        while True:
            await link.wait_until(lambda: self.wanted and link.camera_online)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    detector = self.cam.motion(
                        sensitivity=options.motion_sensitivity,
                        fps=options.motion_fps,
                        purpose="mqtt software motion",
                    )
                    async with asyncio.timeout(link.bridge.command_timeout):
                        await stack.enter_async_context(detector)
                    self.starts += 1
                    self._set_running(True)
                    _log.info("software motion of %s: on", link.slug)
                    await link.wait_until(lambda: not self.wanted or not link.camera_online)
            except AccessDeniedError as exc:
                self.wanted = False
                link.refused("software_motion/set", exc)
            except Exception as exc:  # a failing detector must not stop the bridge
                raise_if_cancelling(exc)
                self.wanted = False
                link.report_error("software_motion/set", error_code(exc), str(exc))
                _log.info(
                    "software motion of %s failed: %s: %s",
                    link.slug, type(exc).__name__, scrub(str(exc)),
                )  # fmt: skip
            finally:
                if self.running:
                    self._set_running(False)
                    _log.info("software motion of %s: off", link.slug)


class PrivacySwitch:
    """The "privacy mode" switch: ``ON``/``OFF`` call ``cam.set_privacy_mode(on)``.

    Privacy mode is a device setting only the owner may change unless a grant
    says otherwise: the camera's policy decides each command as ``config`` and
    its audit log records it. The state topic carries the device's privacy
    mode as the camera knows it (read when it connected, then after each
    switch); it is published when the camera comes online and after every
    command, so a refused or failed one (reported on ``error``) leaves the
    switch showing the truth.
    """

    def __init__(self, link: CameraLink, cam: PrivacyModeCamera) -> None:
        self.link = link
        self.cam = cam
        # A few commands may wait; more are refused as "busy", like PTZ moves.
        self.requests: asyncio.Queue[bool] = asyncio.Queue(maxsize=4)
        self.published: bool | None = None
        #: Commands the camera carried out (for tests and stats).
        self.switches = 0

    def command(self, payload: bytes) -> None:
        """Handle a ``privacy_mode/set`` payload (``ON`` or ``OFF``)."""
        text = payload.strip()
        if text in _ON:
            on = True
        elif text in _OFF:
            on = False
        else:
            self.link.report_error(
                "privacy_mode/set", "invalid_command", 'payload must be "ON" or "OFF"'
            )
            return
        try:
            self.requests.put_nowait(on)
        except asyncio.QueueFull:
            self.link.report_error("privacy_mode/set", "busy", "too many commands waiting")

    def publish_state(self, *, changed_only: bool = False) -> None:
        """Publish the privacy mode the camera knows of (nothing while it is unknown).

        ``changed_only``: only when it differs from what was published last
        (the camera may learn it from the device, e.g. a stream that ended
        for privacy mode).
        """
        try:
            state = self.cam.privacy_mode
        except Exception:  # not connected: nothing known to publish
            return
        if state is None or (changed_only and state == self.published):
            return
        self.published = state
        self.link.put(self.link.t_privacy, b"ON" if state else b"OFF", qos=1, retain=True)

    async def run(self) -> None:
        """Carry out the commands in order, until cancelled."""
        link = self.link
        while True:
            on = await self.requests.get()
            try:
                async with asyncio.timeout(link.bridge.command_timeout):
                    await self.cam.set_privacy_mode(on, purpose="mqtt privacy mode")
                self.switches += 1
                _log.info("privacy mode of %s: %s", link.slug, "on" if on else "off")
            except AccessDeniedError as exc:
                link.refused("privacy_mode/set", exc)
            except Exception as exc:  # one failing command must not stop the next
                raise_if_cancelling(exc)
                link.report_error("privacy_mode/set", error_code(exc), str(exc))
                _log.info(
                    "privacy mode of %s failed: %s: %s",
                    link.slug, type(exc).__name__, scrub(str(exc)),
                )  # fmt: skip
            self.publish_state()


class StreamWatch:
    """Holds the camera's stream open and publishes its state and fps periodically.

    Opt-in (``BridgeCameraOptions.watch_stream``): it keeps the upstream
    connected, which costs the camera's bandwidth all the time (and keeps a
    battery camera awake), but gives fresh snapshots from the keyframe cache
    and a live frame rate.
    """

    def __init__(self, link: CameraLink) -> None:
        self.link = link

    async def run(self) -> None:
        """Watch until cancelled, or until the policy refuses the stream."""
        link = self.link
        options = link.options
        attempt = 0
        while True:
            await link.wait_until(lambda: link.camera_online)
            try:
                handle = link.cam.stream(
                    options.stream_profile, audio=False, purpose="mqtt stream stats"
                )
                async with handle:
                    attempt = 0
                    _log.info("stream of %s: watching", link.slug)
                    while link.camera_online:
                        link.on_stream_stats(handle.stats())
                        # Periodic sampling, not synchronisation: the sensor is a rate.
                        await asyncio.sleep(options.stats_interval)
                continue
            except AccessDeniedError as exc:
                link.refused("stream/state", exc)
                return
            except UnsupportedCapabilityError:
                return
            except Exception as exc:  # the stream comes back; so do we
                raise_if_cancelling(exc)
                reason = f"{type(exc).__name__}: {exc}"
            delay = link.bridge._backoff(attempt)
            attempt += 1
            _log.info(
                "stream stats of %s unavailable (%s); retrying in %.1fs",
                link.slug, scrub(reason), delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
