"""camsdk: one async, typed interface to many cameras.

```python
import camsdk

async with camsdk.open("virtual://demo") as cam:
    snap = await cam.snapshot()
    async with cam.stream() as s:
        async for frame in s.frames(fps=2):
            ...
```

Names are loaded on first use (PEP 562), so ``import camsdk`` stays fast and
imports neither PyAV nor any driver.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # facade
    "Camera": "._camera",
    "CameraState": "._camera",
    "EventStream": "._event_stream",
    "Hub": "._hub",
    "MediaStream": "._stream",
    "MotionDetector": "._motion",
    "MotionStats": "._motion",
    "MotionZone": "._motion",
    "PTZControl": "._ptz",
    "Speaker": "._talk",
    # continuous recording
    "EventClips": "._recorder",
    "IndexedEvent": "._recorder",
    "Recorder": "._recorder",
    "RecorderStats": "._recorder",
    "RecordingGap": "._recorder",
    "RecordingIndex": "._recorder",
    "Retention": "._recorder",
    "Segment": "._recorder",
    "available_drivers": "._registry",
    "discover": "._discovery",
    "register_driver": "._registry",
    # models
    "CameraConfig": "._models",
    "CameraEvent": "._models",
    "CameraInfo": "._models",
    "Capability": "._models",
    "Credentials": "._models",
    "DeviceRecording": "._models",
    "DiscoveredCamera": "._models",
    "DriverInfo": "._models",
    "EventKind": "._models",
    "OverflowPolicy": "._models",
    "PTZPreset": "._models",
    "PTZStatus": "._models",
    "Recording": "._models",
    "Snapshot": "._models",
    "StreamProfile": "._models",
    "StreamState": "._models",
    "StreamStats": "._models",
    # media
    "AudioFormat": "._talk",
    "Discontinuity": "._media",
    "MediaPacket": "._media",
    "StreamInfo": "._media",
    "VideoFrame": "._media",
    # driver contract
    "CameraDriver": "._driver",
    "DriverOptions": "._driver",
    "HubCamera": "._driver",
    "HubDriver": "._driver",
    "PTZDriver": "._driver",
    "PacketSource": "._driver",
    "StreamSource": "._driver",
    "TalkChannel": "._talk",
    # access
    "AccessPolicy": "._access",
    "AccessRequest": "._access",
    "Action": "._access",
    "AllowOwner": "._access",
    "AuditSink": "._access",
    "Decision": "._access",
    "OWNER": "._access",
    "Principal": "._access",
    # errors
    "AccessDeniedError": "._errors",
    "AuthenticationError": "._errors",
    "CamError": "._errors",
    "CameraClosedError": "._errors",
    "CameraConnectionError": "._errors",
    "CameraProtocolError": "._errors",
    "CameraTimeoutError": "._errors",
    "CameraUnreachableError": "._errors",
    "ConfigurationError": "._errors",
    "DeviceError": "._errors",
    "DriverUnavailableError": "._errors",
    "PrivacyModeError": "._errors",
    "RateLimitedError": "._errors",
    "ReauthRequiredError": "._errors",
    "RecordingError": "._errors",
    "RedirectRefusedError": "._errors",
    "StreamDecodeError": "._errors",
    "StreamEndedError": "._errors",
    "StreamError": "._errors",
    "StreamOpenError": "._errors",
    "StreamStalledError": "._errors",
    "TokenLineageInUseError": "._errors",
    "TwoFactorRequiredError": "._errors",
    "UnknownSchemeError": "._errors",
    "UnsupportedCapabilityError": "._errors",
}

__all__ = sorted([*_EXPORTS, "OptionValue", "__version__", "hub", "open"])


#: What a driver option may be given as: text (as in a URL query) or a typed value.
OptionValue = str | int | float | bool | Sequence[Any] | Mapping[str, Any] | None


def open(  # noqa: A001 - the public entry point
    url: str,
    *,
    credentials: Credentials | None = None,
    config: CameraConfig | Mapping[str, Any] | None = None,
    principal: Principal | str = "owner",
    policy: AccessPolicy | None = None,
    audit: AuditSink | None = None,
    masks: Iterable[PrivacyMask] = (),
    **options: OptionValue,
) -> Camera:
    """Return a `Camera` for ``url`` without doing any I/O.

    ``credentials`` log in (they never need to be in the URL); ``config``
    sets deadlines, buffering and reconnects (`CameraConfig` or a mapping);
    ``principal`` (a `Principal` or its id), ``policy``, ``audit`` and
    ``masks`` are the owner's controls (see `camsdk.privacy`); any other
    keyword is a driver option, the same names as the URL's query options
    (an unknown one is a `ConfigurationError` at once). Connect with
    ``async with`` or ``await cam.connect()``.
    """
    from ._factory import open_camera

    return open_camera(
        url, credentials=credentials, config=config, principal=principal, policy=policy,
        audit=audit, masks=masks, **options,
    )


def hub(
    url: str,
    *,
    credentials: Credentials | None = None,
    config: CameraConfig | Mapping[str, Any] | None = None,
    principal: Principal | str = "owner",
    policy: AccessPolicy | None = None,
    audit: AuditSink | None = None,
    masks: Iterable[PrivacyMask] = (),
    **options: OptionValue,
) -> Hub:
    """Return a `Hub` (NVR or account) for ``url`` without doing any I/O.

    Takes the same arguments as `open`; use ``async with``. The cameras it
    hands out share its session and its owner's controls.
    """
    from ._factory import open_hub

    return open_hub(
        url, credentials=credentials, config=config, principal=principal, policy=policy,
        audit=audit, masks=masks, **options,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'camsdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - eager imports for type checkers and IDEs
    from ._access import (
        OWNER as OWNER,
    )
    from ._access import (
        AccessPolicy as AccessPolicy,
    )
    from ._access import (
        AccessRequest as AccessRequest,
    )
    from ._access import (
        Action as Action,
    )
    from ._access import (
        AllowOwner as AllowOwner,
    )
    from ._access import (
        AuditSink as AuditSink,
    )
    from ._access import (
        Decision as Decision,
    )
    from ._access import (
        Principal as Principal,
    )
    from ._camera import (
        Camera as Camera,
    )
    from ._camera import (
        CameraState as CameraState,
    )
    from ._discovery import (
        discover as discover,
    )
    from ._driver import (
        CameraDriver as CameraDriver,
    )
    from ._driver import (
        DriverOptions as DriverOptions,
    )
    from ._driver import (
        HubCamera as HubCamera,
    )
    from ._driver import (
        HubDriver as HubDriver,
    )
    from ._driver import (
        PacketSource as PacketSource,
    )
    from ._driver import (
        PTZDriver as PTZDriver,
    )
    from ._driver import (
        StreamSource as StreamSource,
    )
    from ._errors import (
        AccessDeniedError as AccessDeniedError,
    )
    from ._errors import (
        AuthenticationError as AuthenticationError,
    )
    from ._errors import (
        CameraClosedError as CameraClosedError,
    )
    from ._errors import (
        CameraConnectionError as CameraConnectionError,
    )
    from ._errors import (
        CameraProtocolError as CameraProtocolError,
    )
    from ._errors import (
        CameraTimeoutError as CameraTimeoutError,
    )
    from ._errors import (
        CameraUnreachableError as CameraUnreachableError,
    )
    from ._errors import (
        CamError as CamError,
    )
    from ._errors import (
        ConfigurationError as ConfigurationError,
    )
    from ._errors import (
        DeviceError as DeviceError,
    )
    from ._errors import (
        DriverUnavailableError as DriverUnavailableError,
    )
    from ._errors import (
        PrivacyModeError as PrivacyModeError,
    )
    from ._errors import (
        RateLimitedError as RateLimitedError,
    )
    from ._errors import (
        ReauthRequiredError as ReauthRequiredError,
    )
    from ._errors import (
        RecordingError as RecordingError,
    )
    from ._errors import (
        RedirectRefusedError as RedirectRefusedError,
    )
    from ._errors import (
        StreamDecodeError as StreamDecodeError,
    )
    from ._errors import (
        StreamEndedError as StreamEndedError,
    )
    from ._errors import (
        StreamError as StreamError,
    )
    from ._errors import (
        StreamOpenError as StreamOpenError,
    )
    from ._errors import (
        StreamStalledError as StreamStalledError,
    )
    from ._errors import (
        TokenLineageInUseError as TokenLineageInUseError,
    )
    from ._errors import (
        TwoFactorRequiredError as TwoFactorRequiredError,
    )
    from ._errors import (
        UnknownSchemeError as UnknownSchemeError,
    )
    from ._errors import (
        UnsupportedCapabilityError as UnsupportedCapabilityError,
    )
    from ._event_stream import (
        EventStream as EventStream,
    )
    from ._hub import (
        Hub as Hub,
    )
    from ._media import (
        Discontinuity as Discontinuity,
    )
    from ._media import (
        MediaPacket as MediaPacket,
    )
    from ._media import (
        StreamInfo as StreamInfo,
    )
    from ._media import (
        VideoFrame as VideoFrame,
    )
    from ._models import (
        CameraConfig as CameraConfig,
    )
    from ._models import (
        CameraEvent as CameraEvent,
    )
    from ._models import (
        CameraInfo as CameraInfo,
    )
    from ._models import (
        Capability as Capability,
    )
    from ._models import (
        Credentials as Credentials,
    )
    from ._models import (
        DeviceRecording as DeviceRecording,
    )
    from ._models import (
        DiscoveredCamera as DiscoveredCamera,
    )
    from ._models import (
        DriverInfo as DriverInfo,
    )
    from ._models import (
        EventKind as EventKind,
    )
    from ._models import (
        OverflowPolicy as OverflowPolicy,
    )
    from ._models import (
        PTZPreset as PTZPreset,
    )
    from ._models import (
        PTZStatus as PTZStatus,
    )
    from ._models import (
        Recording as Recording,
    )
    from ._models import (
        Snapshot as Snapshot,
    )
    from ._models import (
        StreamProfile as StreamProfile,
    )
    from ._models import (
        StreamState as StreamState,
    )
    from ._models import (
        StreamStats as StreamStats,
    )
    from ._motion import (
        MotionDetector as MotionDetector,
    )
    from ._motion import (
        MotionStats as MotionStats,
    )
    from ._motion import (
        MotionZone as MotionZone,
    )
    from ._ptz import (
        PTZControl as PTZControl,
    )
    from ._recorder import (
        EventClips as EventClips,
    )
    from ._recorder import (
        IndexedEvent as IndexedEvent,
    )
    from ._recorder import (
        Recorder as Recorder,
    )
    from ._recorder import (
        RecorderStats as RecorderStats,
    )
    from ._recorder import (
        RecordingGap as RecordingGap,
    )
    from ._recorder import (
        RecordingIndex as RecordingIndex,
    )
    from ._recorder import (
        Retention as Retention,
    )
    from ._recorder import (
        Segment as Segment,
    )
    from ._registry import (
        available_drivers as available_drivers,
    )
    from ._registry import (
        register_driver as register_driver,
    )
    from ._stream import (
        MediaStream as MediaStream,
    )
    from ._talk import (
        AudioFormat as AudioFormat,
    )
    from ._talk import (
        Speaker as Speaker,
    )
    from ._talk import (
        TalkChannel as TalkChannel,
    )
    from .privacy import PrivacyMask
