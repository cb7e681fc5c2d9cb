"""`VirtualDriver`: the ``virtual://<name>`` camera.

A simulated camera that needs no network: it replays a real H.264 or HEVC
loop (made once by `encoded_loop`) in real time, emits scripted and injected
events, has a PTZ head, and fails on request (``fail=``, or
`VirtualDevice.inject_fault` while it runs). Cameras opened on one name
share one `VirtualDevice`.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar, NoReturn

from camsdk.driver import (
    AuthenticationError,
    CameraClosedError,
    CameraConfig,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraURL,
    CamError,
    Capability,
    ConfigurationError,
    Credentials,
    PacketSource,
    PrivacyModeError,
    PTZDriver,
    StreamOpenError,
    StreamProfile,
    UnsupportedCapabilityError,
)

from ._device import VirtualDevice, normalise_name, virtual_device
from ._events import VirtualEventStream
from ._options import Fault, VirtualOptions
from ._ptz import VirtualPTZ
from ._scene import EncodedLoop, LoopParams, encoded_loop
from ._stream import VirtualStream

__all__ = ["VirtualDriver", "device_name", "forever"]

PROFILES = ("main", "sub")


def device_name(url: CameraURL) -> str:
    """The device name in ``virtual://<name>`` (``virtual:///<name>`` works too)."""
    path = url.path.strip("/")
    if (url.host and path) or url.port is not None:
        raise ConfigurationError(
            "a virtual camera URL names the camera only: virtual://<name>?options",
            scheme="virtual",
            url=url.redacted(),
        )
    return normalise_name(url.host or path)


def _firmware() -> str:
    try:
        return version("camsdk")
    except PackageNotFoundError:
        # A source checkout: the package may still say what it is.
        found = getattr(sys.modules.get("camsdk"), "__version__", None)
        return found if isinstance(found, str) else "dev"


async def _encode(params: LoopParams) -> EncodedLoop:
    """Run the blocking `encoded_loop` in a thread of its own that ends with it.

    Not ``asyncio.to_thread``: its pool keeps idle workers alive, which leak
    checks count against whoever opened the stream. Cancelling the wait leaves
    the encode to finish in the background (it fills the cache for next time).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[EncodedLoop] = loop.create_future()

    def settle(result: EncodedLoop | None, error: BaseException | None) -> None:
        if future.done():  # the waiter was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            assert result is not None
            future.set_result(result)

    def work() -> None:
        try:
            result, error = encoded_loop(params), None
        except BaseException as exc:  # handed to the awaiting task, not lost in the thread
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the event loop closed meanwhile: nobody is waiting
            pass

    threading.Thread(target=work, name="camsdk-virtual-encode", daemon=True).start()
    return await future


async def forever() -> NoReturn:
    """Await until cancelled: what a camera that never answers looks like."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable")  # pragma: no cover


class VirtualDriver(CameraDriver[VirtualOptions]):
    """The built-in simulated camera (see ``docs/drivers/virtual.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("virtual",)
    display_name: ClassVar[str] = "Virtual camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT
        | Capability.STREAM
        | Capability.AUDIO
        | Capability.EVENTS
        | Capability.PTZ
        | Capability.PTZ_PRESETS
        | Capability.RECORD
        | Capability.BATTERY
        | Capability.PRIVACY_MODE
    )
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Name the device and narrow the capabilities by the options (no I/O)."""
        self.name = device_name(self.url)
        self.battery_powered = self.options.battery
        self._device: VirtualDevice | None = virtual_device(self.name)
        self._connected = False
        self._streams: weakref.WeakSet[VirtualStream] = weakref.WeakSet()
        self._listeners: weakref.WeakSet[VirtualEventStream] = weakref.WeakSet()
        caps = self.declared_capabilities
        if not self.options.audio:
            caps &= ~Capability.AUDIO
        if not self.options.ptz:
            caps &= ~(Capability.PTZ | Capability.PTZ_PRESETS)
        if not self.options.battery:
            caps &= ~Capability.BATTERY
        self.report_capabilities(caps)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        credentials: Credentials | None = None,
        config: CameraConfig | None = None,
        **options: Any,
    ) -> VirtualDriver:
        """Build a driver from URL text; keyword options override the query."""
        parsed = CameraURL.parse(url)
        if parsed.scheme not in cls.schemes:
            raise ConfigurationError(
                f"not a virtual camera URL: {parsed.scheme}://", url=parsed.redacted()
            )
        merged: Mapping[str, Any] = {**parsed.options, **options}
        return cls(
            url=parsed,
            credentials=credentials,
            config=config,
            options=VirtualOptions.from_query(merged),
        )

    # -- identity --------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        """``virtual:<name>``: the same for every camera on one device."""
        return f"virtual:{self.name}"

    @property
    def device(self) -> VirtualDevice:
        """The shared simulated device (the test handle); `CameraClosedError` once closed."""
        if self._device is None:
            raise CameraClosedError("camera is closed", scheme="virtual", url=self._redacted)
        return self._device

    @property
    def _redacted(self) -> str:
        return self.url.redacted()

    def profiles(self) -> tuple[StreamProfile, ...]:
        """The ``main`` and ``sub`` profiles this camera offers."""
        opts = self.options
        out = []
        for name in PROFILES:
            params = opts.loop_params(name)
            out.append(
                StreamProfile(
                    name=name,
                    token=name,
                    codec=opts.codec,
                    width=params.width,
                    height=params.height,
                    fps=float(opts.fps),
                    bitrate=params.bitrate,
                    audio_codec="aac" if opts.audio else None,
                )
            )
        return tuple(out)

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Reach the simulated device; honours the ``auth`` and ``timeout`` faults."""
        device = self.device
        device.connects += 1
        await self._gate()
        self._connected = True
        return CameraInfo(
            id=self.camera_id,
            name=self.name,
            vendor="camsdk",
            model="Virtual camera",
            firmware=_firmware(),
            serial="VC" + hashlib.sha256(self.name.encode()).hexdigest()[:10].upper(),
            hardware_id="virtual",
            profiles=self.profiles(),
            extra={"battery": "1" if self.options.battery else "0"},
        )

    async def close(self) -> None:
        """End every stream and events iterator of this driver and let the device go."""
        if self._device is None:
            return
        for listener in list(self._listeners):
            listener.end()
        for stream in list(self._streams):
            await stream.aclose()
        self._device = None
        self._connected = False

    def _faults(self) -> tuple[Fault, ...]:
        return self.options.fail + tuple(i.fault for i in self.device.injections())

    async def _gate(self) -> None:
        """What every new connection meets: rejected credentials or silence."""
        kinds = {fault.kind for fault in self._faults()}
        if "auth" in kinds:
            raise AuthenticationError(
                "virtual camera rejected the credentials", scheme="virtual", url=self._redacted
            )
        if "timeout" in kinds:
            await forever()

    # -- privacy mode ----------------------------------------------------------------------

    async def privacy_mode(self) -> bool:
        """Whether the simulated lens is covered."""
        return self.device.privacy_mode

    async def set_privacy_mode(self, on: bool) -> None:
        """Cover or uncover the simulated lens (streams end while it is covered)."""
        self.device.privacy_mode = bool(on)

    # -- media -----------------------------------------------------------------------------

    async def open_stream(self, profile: str) -> PacketSource:
        """Open ``main`` or ``sub``: encode (or load) its loop and return a live source."""
        params = self.options.loop_params(profile)  # unknown profile: ConfigurationError
        device = self.device
        await self._gate()
        if device.privacy_mode:
            raise PrivacyModeError(
                "the virtual camera is in privacy mode", scheme="virtual", url=self._redacted
            )
        try:
            loop = await _encode(params)
        except CamError:
            raise
        except Exception as exc:  # av, numpy or disk errors: never let a raw one escape
            raise StreamOpenError(
                f"could not encode the virtual scene: {exc}", scheme="virtual", url=self._redacted
            ) from exc
        if self._device is None:  # closed while the loop was being encoded
            raise CameraClosedError("camera is closed", scheme="virtual", url=self._redacted)
        stream = VirtualStream(
            device=device,
            loop=loop,
            faults=self.options.fail,
            url=self._redacted,
            realtime=self.options.realtime,
            motion_onset=params.motion_onset,
        )
        self._streams.add(stream)
        return stream

    def events(self) -> AsyncIterator[CameraEvent]:
        """Injected and scripted events until the iterator or the camera closes."""
        listener = VirtualEventStream(self.device, self.options.events, self._gate)
        self._listeners.add(listener)
        return listener

    def ptz(self) -> PTZDriver:
        """The shared PTZ head; `UnsupportedCapabilityError` when ``ptz=0``."""
        if not self.options.ptz:
            raise UnsupportedCapabilityError(
                "this virtual camera has no PTZ (ptz=0)", scheme="virtual", url=self._redacted
            )
        return VirtualPTZ(self.device.ptz, is_closed=self._is_closed, url=self._redacted)

    def _is_closed(self) -> bool:
        return self._device is None
