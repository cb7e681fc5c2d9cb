"""The driver kit: everything a camera driver imports, in one public module.

Built-in drivers and third-party ones are written against this module (and
the `camsdk` package) only; what a built-in needs, a plugin gets too.

- The contract: `CameraDriver` (generic in its `DriverOptions`), `HubDriver`,
  `HubCamera`, `PTZDriver`, `PacketSource`, `StreamSource`, `TalkChannel`,
  `AudioFormat`, `extension`.
- Talking to devices: `DeviceHttpClient` (TLS, host pinning, Digest/Basic
  or token auth with refresh and expiry hooks, capped reads, streamed
  request bodies, one error mapping for requests and streamed bodies),
  `DeviceWebSocket` (the same rules for websockets, liveness by bytes
  received), `BodyReader`, `MultipartParser` (eager mode for event streams),
  `DeviceUrlPolicy` (rewrite device-supplied URLs to the caller's host),
  `xml` (hardened parsing, lenient reading by local name), `rtsp_describe`,
  `webrtc` (peer connections through aiortc, extra ``webrtc``: media as a
  `PacketSource`, talk channels, vendor SDP answer fixes).
- Small helpers: `CameraURL`, `register_secret`, `get_logger`, `redact_text`,
  `backoff_delay` (capped exponential with full jitter, for reconnect loops),
  JPEG helpers (`jpeg_size`, `looks_like_jpeg`, `require_jpeg`,
  `device_snapshot`).
- Parts every driver repeated: `SessionSlot` (the session held from
  ``connect`` to ``close``), `hub_camera_url` / `own_camera_url` (a hub's
  camera URLs), `lazy_exports` (a driver package's lazy ``__getattr__``),
  `udp_probe` (LAN discovery: send one datagram to a multicast/broadcast
  address, collect bounded answers until a deadline, each read by the
  driver's parser), `is_loopback_host`, and `EventFanout` (one event
  reader shared by the cameras that listen, each with its `EventQueue`).
- The models, media types and errors drivers return and raise.

See ``docs/writing-a-driver.md`` for a worked example that passes
``mypy --strict`` and the conformance suite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The User-Agent camsdk sends to devices.
USER_AGENT = "camsdk"

#: Names that are whole modules rather than attributes of one.
_MODULES = frozenset({"webrtc", "xml"})

# name -> module: imported on first use, so importing the kit costs little.
_EXPORTS: dict[str, str] = {
    "MediaDescription": "._rtsp",
    "SessionDescription": "._rtsp",
    "AccessDeniedError": "._errors",
    "Action": "._access",
    "AudioFormat": "._talk",
    "AuthenticationError": "._errors",
    "BodyReader": "._device_http",
    "CamError": "._errors",
    "CameraClosedError": "._errors",
    "CameraConfig": "._models",
    "CameraConnectionError": "._errors",
    "CameraDriver": "._driver",
    "CameraEvent": "._models",
    "CameraInfo": "._models",
    "CameraProtocolError": "._errors",
    "CameraTimeoutError": "._errors",
    "CameraURL": "._url",
    "CameraUnreachableError": "._errors",
    "Capability": "._models",
    "CertificateChangedError": "._cert_pin",
    "ConfigurationError": "._errors",
    "Credentials": "._models",
    "DEFAULT_MAX_BYTES": "._device_http",
    "DeviceAuth": "._device_http",
    "DeviceError": "._errors",
    "DeviceRecording": "._models",
    "DeviceHttpClient": "._device_http",
    "DeviceResponse": "._device_http",
    "DeviceSessions": "._device_care",
    "DeviceUrlPolicy": "._device_urls",
    "DeviceWebSocket": "._device_ws",
    "Discontinuity": "._media",
    "DiscoveredCamera": "._models",
    "DriverOptions": "._driver",
    "ErrorMapping": "._device_http",
    "EventKind": "._models",
    "EventFanout": "._event_queue",
    "EventQueue": "._event_queue",
    "HubCamera": "._driver",
    "HubDriver": "._driver",
    "MediaPacket": "._media",
    "MultipartError": "._multipart",
    "MultipartParser": "._multipart",
    "PTZDriver": "._driver",
    "PTZPreset": "._models",
    "PTZStatus": "._models",
    "PacketSource": "._driver",
    "Part": "._multipart",
    "PartTooLargeError": "._multipart",
    "PrivacyModeError": "._errors",
    "RedirectRefusedError": "._errors",
    "RecordingSink": "._driver",
    "RequestContext": "._device_care",
    "ResolvedURL": "._device_urls",
    "Sha256Fingerprint": "._cert_pin",
    "Snapshot": "._models",
    "StreamDecodeError": "._errors",
    "StreamEndedError": "._errors",
    "StreamError": "._errors",
    "StreamInfo": "._media",
    "StreamOpenError": "._errors",
    "StreamProfile": "._models",
    "StreamSource": "._driver",
    "StreamStalledError": "._errors",
    "TalkChannel": "._talk",
    "TokenAuth": "._device_http",
    "TwoFactorRequiredError": "._errors",
    "UnsupportedCapabilityError": "._errors",
    "SessionSlot": "._driver_parts",
    "device_snapshot": "._driver_parts",
    "hub_camera_url": "._driver_parts",
    "lazy_exports": "._driver_parts",
    "own_camera_url": "._driver_parts",
    "WatchedSource": "._watched_source",
    "backoff_delay": "._events",
    "boundary_from_content_type": "._multipart",
    "certificate_fingerprint": "._cert_pin",
    "close_response": "._device_http",
    "current_request": "._device_care",
    "extension": "._driver",
    "get_logger": "._log",
    "host_allowed": "._device_http",
    "is_loopback_host": "._udp_probe",
    "json_array": "._json_values",
    "json_float": "._json_values",
    "json_int": "._json_values",
    "json_object": "._json_values",
    "json_text": "._json_values",
    "jpeg_size": "._jpeg",
    "looks_like_jpeg": "._jpeg",
    "media_type": "._device_http",
    "open_source": "._upstream",
    "parse_options": "._driver",
    "pin_certificate": "._cert_pin",
    "pinned_context": "._cert_pin",
    "redact_text": "._url",
    "register_secret": "._log",
    "require_jpeg": "._jpeg",
    "rtsp_backchannel": "._upstream",
    "rtsp_describe": "._upstream",
    "rtsp_metadata": "._upstream",
    "stop_task": "._event_queue",
    "udp_probe": "._udp_probe",
    "webrtc": "._webrtc",
    "xml": "._xml",
}

__all__ = [
    "AccessDeniedError",
    "Action",
    "AudioFormat",
    "AuthenticationError",
    "BodyReader",
    "CamError",
    "CameraClosedError",
    "CameraConfig",
    "CameraConnectionError",
    "CameraDriver",
    "CameraEvent",
    "CameraInfo",
    "CameraProtocolError",
    "CameraTimeoutError",
    "CameraURL",
    "CameraUnreachableError",
    "Capability",
    "CertificateChangedError",
    "ConfigurationError",
    "Credentials",
    "DEFAULT_MAX_BYTES",
    "DeviceAuth",
    "DeviceError",
    "DeviceHttpClient",
    "DeviceRecording",
    "DeviceResponse",
    "DeviceSessions",
    "DeviceUrlPolicy",
    "DeviceWebSocket",
    "Discontinuity",
    "DiscoveredCamera",
    "DriverOptions",
    "ErrorMapping",
    "EventFanout",
    "EventKind",
    "EventQueue",
    "HubCamera",
    "HubDriver",
    "MediaDescription",
    "MediaPacket",
    "MultipartError",
    "MultipartParser",
    "PTZDriver",
    "PTZPreset",
    "PTZStatus",
    "PacketSource",
    "Part",
    "PartTooLargeError",
    "PrivacyModeError",
    "RecordingSink",
    "RedirectRefusedError",
    "RequestContext",
    "ResolvedURL",
    "SessionDescription",
    "SessionSlot",
    "Sha256Fingerprint",
    "Snapshot",
    "StreamDecodeError",
    "StreamEndedError",
    "StreamError",
    "StreamInfo",
    "StreamOpenError",
    "StreamProfile",
    "StreamSource",
    "StreamStalledError",
    "TalkChannel",
    "TokenAuth",
    "TwoFactorRequiredError",
    "USER_AGENT",
    "UnsupportedCapabilityError",
    "WatchedSource",
    "backoff_delay",
    "boundary_from_content_type",
    "certificate_fingerprint",
    "close_response",
    "current_request",
    "device_snapshot",
    "extension",
    "get_logger",
    "host_allowed",
    "hub_camera_url",
    "is_loopback_host",
    "jpeg_size",
    "json_array",
    "json_float",
    "json_int",
    "json_object",
    "json_text",
    "lazy_exports",
    "looks_like_jpeg",
    "media_type",
    "open_source",
    "own_camera_url",
    "parse_options",
    "pin_certificate",
    "pinned_context",
    "redact_text",
    "register_secret",
    "require_jpeg",
    "rtsp_backchannel",
    "rtsp_describe",
    "rtsp_metadata",
    "stop_task",
    "udp_probe",
    "webrtc",
    "xml",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'camsdk.driver' has no attribute {name!r}")
    loaded = importlib.import_module(module, "camsdk")
    value = loaded if name in _MODULES else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - eager imports for type checkers and IDEs
    from . import _webrtc as webrtc
    from . import _xml as xml
    from ._access import Action as Action
    from ._cert_pin import CertificateChangedError as CertificateChangedError
    from ._cert_pin import Sha256Fingerprint as Sha256Fingerprint
    from ._cert_pin import certificate_fingerprint as certificate_fingerprint
    from ._cert_pin import pin_certificate as pin_certificate
    from ._cert_pin import pinned_context as pinned_context
    from ._device_care import DeviceSessions as DeviceSessions
    from ._device_care import RequestContext as RequestContext
    from ._device_care import current_request as current_request
    from ._device_http import DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES
    from ._device_http import BodyReader as BodyReader
    from ._device_http import DeviceAuth as DeviceAuth
    from ._device_http import DeviceHttpClient as DeviceHttpClient
    from ._device_http import DeviceResponse as DeviceResponse
    from ._device_http import ErrorMapping as ErrorMapping
    from ._device_http import TokenAuth as TokenAuth
    from ._device_http import close_response as close_response
    from ._device_http import host_allowed as host_allowed
    from ._device_http import media_type as media_type
    from ._device_urls import DeviceUrlPolicy as DeviceUrlPolicy
    from ._device_urls import ResolvedURL as ResolvedURL
    from ._device_ws import DeviceWebSocket as DeviceWebSocket
    from ._driver import CameraDriver as CameraDriver
    from ._driver import DriverOptions as DriverOptions
    from ._driver import HubCamera as HubCamera
    from ._driver import HubDriver as HubDriver
    from ._driver import PacketSource as PacketSource
    from ._driver import PTZDriver as PTZDriver
    from ._driver import RecordingSink as RecordingSink
    from ._driver import StreamSource as StreamSource
    from ._driver import extension as extension
    from ._driver import parse_options as parse_options
    from ._driver_parts import SessionSlot as SessionSlot
    from ._driver_parts import device_snapshot as device_snapshot
    from ._driver_parts import hub_camera_url as hub_camera_url
    from ._driver_parts import lazy_exports as lazy_exports
    from ._driver_parts import own_camera_url as own_camera_url
    from ._errors import AccessDeniedError as AccessDeniedError
    from ._errors import AuthenticationError as AuthenticationError
    from ._errors import CameraClosedError as CameraClosedError
    from ._errors import CameraConnectionError as CameraConnectionError
    from ._errors import CameraProtocolError as CameraProtocolError
    from ._errors import CameraTimeoutError as CameraTimeoutError
    from ._errors import CameraUnreachableError as CameraUnreachableError
    from ._errors import CamError as CamError
    from ._errors import ConfigurationError as ConfigurationError
    from ._errors import DeviceError as DeviceError
    from ._errors import PrivacyModeError as PrivacyModeError
    from ._errors import RedirectRefusedError as RedirectRefusedError
    from ._errors import StreamDecodeError as StreamDecodeError
    from ._errors import StreamEndedError as StreamEndedError
    from ._errors import StreamError as StreamError
    from ._errors import StreamOpenError as StreamOpenError
    from ._errors import StreamStalledError as StreamStalledError
    from ._errors import TwoFactorRequiredError as TwoFactorRequiredError
    from ._errors import UnsupportedCapabilityError as UnsupportedCapabilityError
    from ._event_queue import EventFanout as EventFanout
    from ._event_queue import EventQueue as EventQueue
    from ._event_queue import stop_task as stop_task
    from ._events import backoff_delay as backoff_delay
    from ._jpeg import jpeg_size as jpeg_size
    from ._jpeg import looks_like_jpeg as looks_like_jpeg
    from ._jpeg import require_jpeg as require_jpeg
    from ._json_values import json_array as json_array
    from ._json_values import json_float as json_float
    from ._json_values import json_int as json_int
    from ._json_values import json_object as json_object
    from ._json_values import json_text as json_text
    from ._log import get_logger as get_logger
    from ._log import register_secret as register_secret
    from ._media import Discontinuity as Discontinuity
    from ._media import MediaPacket as MediaPacket
    from ._media import StreamInfo as StreamInfo
    from ._models import CameraConfig as CameraConfig
    from ._models import CameraEvent as CameraEvent
    from ._models import CameraInfo as CameraInfo
    from ._models import Capability as Capability
    from ._models import Credentials as Credentials
    from ._models import DeviceRecording as DeviceRecording
    from ._models import DiscoveredCamera as DiscoveredCamera
    from ._models import EventKind as EventKind
    from ._models import PTZPreset as PTZPreset
    from ._models import PTZStatus as PTZStatus
    from ._models import Snapshot as Snapshot
    from ._models import StreamProfile as StreamProfile
    from ._multipart import MultipartError as MultipartError
    from ._multipart import MultipartParser as MultipartParser
    from ._multipart import Part as Part
    from ._multipart import PartTooLargeError as PartTooLargeError
    from ._multipart import boundary_from_content_type as boundary_from_content_type
    from ._rtsp import MediaDescription as MediaDescription
    from ._rtsp import SessionDescription as SessionDescription
    from ._talk import AudioFormat as AudioFormat
    from ._talk import TalkChannel as TalkChannel
    from ._udp_probe import is_loopback_host as is_loopback_host
    from ._udp_probe import udp_probe as udp_probe
    from ._upstream import open_source as open_source
    from ._upstream import rtsp_backchannel as rtsp_backchannel
    from ._upstream import rtsp_describe as rtsp_describe
    from ._upstream import rtsp_metadata as rtsp_metadata
    from ._url import CameraURL as CameraURL
    from ._url import redact_text as redact_text
    from ._watched_source import WatchedSource as WatchedSource
