"""The driver kit: everything a camera driver imports, in one public module.

Built-in drivers and third-party ones are written against this module (and
the `camsdk` package) only; what a built-in needs, a plugin gets too.

- The contract: `CameraDriver` (generic in its `DriverOptions`), `HubDriver`,
  `HubCamera`, `PTZDriver`, `PacketSource`, `StreamSource`, `TalkChannel`,
  `AudioFormat`, `extension`.
- Talking to devices: `DeviceHttpClient` (TLS, host pinning, Digest/Basic
  or token auth with a refresh hook, capped reads, one error mapping for
  requests and streamed bodies), `BodyReader`, `MultipartParser`,
  `DeviceUrlPolicy` (rewrite device-supplied URLs to the caller's host),
  `xml` (hardened parsing, lenient reading by local name), `rtsp_describe`.
- Small helpers: `CameraURL`, `register_secret`, `get_logger`, `redact_text`,
  JPEG helpers (`jpeg_size`, `looks_like_jpeg`, `require_jpeg`).
- The models, media types and errors drivers return and raise.

See ``docs/writing-a-driver.md`` for a worked example that passes
``mypy --strict`` and the conformance suite.
"""

from __future__ import annotations

from . import _xml as xml
from ._access import Action
from ._device_care import DeviceSessions, RequestContext, current_request
from ._device_http import (
    DEFAULT_MAX_BYTES,
    BodyReader,
    DeviceAuth,
    DeviceHttpClient,
    DeviceResponse,
    ErrorMapping,
    TokenAuth,
    close_response,
    host_allowed,
    media_type,
)
from ._device_urls import DeviceUrlPolicy, ResolvedURL
from ._driver import (
    CameraDriver,
    DriverOptions,
    HubCamera,
    HubDriver,
    PacketSource,
    PTZDriver,
    StreamSource,
    extension,
    parse_options,
)
from ._errors import (
    AccessDeniedError,
    AuthenticationError,
    CameraClosedError,
    CameraConnectionError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    DeviceError,
    PrivacyModeError,
    RedirectRefusedError,
    StreamDecodeError,
    StreamEndedError,
    StreamError,
    StreamOpenError,
    StreamStalledError,
    TwoFactorRequiredError,
    UnsupportedCapabilityError,
)
from ._jpeg import jpeg_size, looks_like_jpeg, require_jpeg
from ._log import get_logger, register_secret
from ._media import Discontinuity, MediaPacket, StreamInfo
from ._models import (
    CameraConfig,
    CameraEvent,
    CameraInfo,
    Capability,
    Credentials,
    DiscoveredCamera,
    EventKind,
    PTZPreset,
    PTZStatus,
    Snapshot,
    StreamProfile,
)
from ._multipart import (
    MultipartError,
    MultipartParser,
    Part,
    PartTooLargeError,
    boundary_from_content_type,
)
from ._talk import AudioFormat, TalkChannel
from ._url import CameraURL, redact_text

#: The User-Agent camsdk sends to devices.
USER_AGENT = "camsdk"

__all__ = [
    "DEFAULT_MAX_BYTES",
    "USER_AGENT",
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
    "ConfigurationError",
    "Credentials",
    "DeviceAuth",
    "DeviceError",
    "DeviceHttpClient",
    "DeviceResponse",
    "DeviceSessions",
    "DeviceUrlPolicy",
    "Discontinuity",
    "DiscoveredCamera",
    "DriverOptions",
    "ErrorMapping",
    "EventKind",
    "HubCamera",
    "HubDriver",
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
    "RedirectRefusedError",
    "RequestContext",
    "ResolvedURL",
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
    "UnsupportedCapabilityError",
    "boundary_from_content_type",
    "close_response",
    "current_request",
    "extension",
    "get_logger",
    "host_allowed",
    "jpeg_size",
    "looks_like_jpeg",
    "media_type",
    "parse_options",
    "redact_text",
    "register_secret",
    "require_jpeg",
    "xml",
]
