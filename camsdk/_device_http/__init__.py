"""Device HTTP for drivers: one client, one error mapping, bounded bodies (see `_client`)."""

from ._auth import DeviceAuth, TokenAuth
from ._body import BodyReader, close_response
from ._client import DEFAULT_MAX_BYTES, DeviceHttpClient, DeviceResponse, host_allowed
from ._errors import ErrorMapping, media_type

__all__ = [
    "DEFAULT_MAX_BYTES",
    "BodyReader",
    "DeviceAuth",
    "DeviceHttpClient",
    "DeviceResponse",
    "ErrorMapping",
    "TokenAuth",
    "close_response",
    "host_allowed",
    "media_type",
]
