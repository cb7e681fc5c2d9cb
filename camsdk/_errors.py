"""The one exception tree of camsdk.

Every error carries the camera's ``scheme`` and a redacted ``url`` (no
password, ever), so a log line says which camera failed without leaking who
may open it. Foreign exceptions (httpx, av, XML parsers) are translated where
they are raised, keeping the chain with ``raise ... from exc``.

```
CamError
 +-- ConfigurationError (ValueError)        bad URL, option, or argument
 |    +-- UnknownSchemeError                no driver for the URL scheme
 +-- DriverUnavailableError (ImportError)   driver known, but not importable
 +-- UnsupportedCapabilityError (NotImplementedError)
 +-- AccessDeniedError                      the access policy said no
 +-- CameraConnectionError                  could not talk to the camera
 |    +-- AuthenticationError               wrong or missing credentials
 |    |    +-- TwoFactorRequiredError       cloud account wants a second factor
 |    |    +-- ReauthRequiredError          a cloud grant is dead: log in again
 |    +-- CameraUnreachableError            refused, no route, DNS failure
 |    +-- CameraTimeoutError (TimeoutError) a deadline passed
 |    +-- RateLimitedError                  the service said slow down (retry_after)
 +-- TokenLineageInUseError                 another process holds this account's tokens
 +-- CameraProtocolError                    the device answered nonsense
 |    +-- DeviceError                       the device reported an error
 |    +-- RedirectRefusedError              a redirect to a host the caller did not name
 +-- StreamError
 |    +-- StreamOpenError                   the stream could not be opened
 |    +-- StreamStalledError                no media for ``stall_timeout``
 |    +-- StreamEndedError                  the source ended (file, VOD)
 |    +-- StreamDecodeError                 undecodable media
 +-- PrivacyModeError                       the device is in privacy mode (not capturing)
 +-- RecordingError (OSError)               a clip could not be written (disk full, dir gone)
 +-- CameraClosedError                      the camera or stream was closed
 +-- AuditLogError (camsdk.privacy)         the audit log cannot be written
```
"""

from __future__ import annotations

from typing import TypedDict, Unpack

__all__ = [
    "AccessDeniedError",
    "AuthenticationError",
    "CamError",
    "CameraClosedError",
    "CameraConnectionError",
    "CameraProtocolError",
    "CameraTimeoutError",
    "CameraUnreachableError",
    "ConfigurationError",
    "DeviceError",
    "DriverUnavailableError",
    "PrivacyModeError",
    "RateLimitedError",
    "ReauthRequiredError",
    "RecordingError",
    "RedirectRefusedError",
    "StreamDecodeError",
    "StreamEndedError",
    "StreamError",
    "StreamOpenError",
    "StreamStalledError",
    "TokenLineageInUseError",
    "TwoFactorRequiredError",
    "UnknownSchemeError",
    "UnsupportedCapabilityError",
]


class _Where(TypedDict, total=False):
    """The camera an error is about: the keyword arguments every error takes."""

    scheme: str | None
    url: str | None


class CamError(Exception):
    """Base class of every error camsdk raises.

    ``scheme`` and ``url`` identify the camera; ``url`` is always redacted.
    """

    def __init__(self, message: str, *, scheme: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.scheme = scheme
        self.url = url

    def __str__(self) -> str:
        if self.url:
            return f"{self.message} [{self.url}]"
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword-only context when errors cross process boundaries.
        return (_rebuild, (type(self), self.message, self.scheme, self.url, self.__dict__))


def _rebuild(
    cls: type[CamError], message: str, scheme: str | None, url: str | None, state: dict[str, object]
) -> CamError:
    err = cls.__new__(cls)
    CamError.__init__(err, message, scheme=scheme, url=url)
    err.__dict__.update(state)
    return err


class ConfigurationError(CamError, ValueError):
    """A URL, option or argument is invalid. Raised before any I/O."""


class UnknownSchemeError(ConfigurationError):
    """No driver is registered for the URL's scheme."""


class DriverUnavailableError(CamError, ImportError):
    """The driver is known but could not be imported; ``hint`` says how to install it."""

    def __init__(self, message: str, *, hint: str | None = None, **where: Unpack[_Where]) -> None:
        super().__init__(message, **where)
        self.hint = hint


class UnsupportedCapabilityError(CamError, NotImplementedError):
    """The camera or its driver does not offer the requested capability."""


class AccessDeniedError(CamError):
    """The access policy refused the request; ``reason`` says why."""

    def __init__(self, message: str, *, reason: str = "", **where: Unpack[_Where]) -> None:
        super().__init__(message, **where)
        self.reason = reason


class CameraConnectionError(CamError):
    """The camera could not be reached or would not talk to us."""


class AuthenticationError(CameraConnectionError):
    """The camera rejected the credentials (or needs some and got none)."""


class TwoFactorRequiredError(AuthenticationError):
    """A cloud account asks for a second factor before it hands out a session.

    ``challenge`` says what the account asked for (an SMS code, a TOTP code,
    an authorization URL); complete it with `camsdk.cloud.login` (or
    ``camsdk login <scheme>``), whose flow stores the tokens.
    """

    def __init__(
        self, message: str, *, challenge: object | None = None, **where: Unpack[_Where]
    ) -> None:
        super().__init__(message, **where)
        self.challenge = challenge


class ReauthRequiredError(AuthenticationError):
    """A cloud grant is dead (refresh token revoked or expired): log in again.

    ``reason`` says why, ``action`` what to do, e.g. that an OAuth app left in
    testing mode gets refresh tokens that expire after 7 days.
    """

    def __init__(
        self, message: str, *, reason: str = "", action: str = "", **where: Unpack[_Where]
    ) -> None:
        super().__init__(message, **where)
        self.reason = reason
        self.action = action


class RateLimitedError(CameraConnectionError):
    """The service asked us to slow down; ``retry_after`` seconds before asking again."""

    def __init__(self, message: str, *, retry_after: float = 0.0, **where: Unpack[_Where]) -> None:
        super().__init__(message, **where)
        self.retry_after = retry_after


class TokenLineageInUseError(CamError):
    """Another process holds this account's tokens (one writer per token lineage).

    Two processes refreshing one rotating refresh token log each other out
    (and some services lock the account); the second is refused instead.
    """


class CameraUnreachableError(CameraConnectionError):
    """Connection refused, no route, name resolution failed, or connection dropped."""


class CameraTimeoutError(CameraConnectionError, TimeoutError):
    """A deadline passed: connect, request, first keyframe, or a camsdk timeout."""


class CameraProtocolError(CamError):
    """The device answered with something that does not follow its protocol."""


class DeviceError(CameraProtocolError):
    """The device reported an error (a SOAP fault, an error code); ``code`` holds it."""

    def __init__(self, message: str, *, code: str | None = None, **where: Unpack[_Where]) -> None:
        super().__init__(message, **where)
        self.code = code


class RedirectRefusedError(CameraProtocolError):
    """The device redirected to another host, port or a weaker scheme; not followed.

    Credentials are never sent to a host the caller did not name. ``location``
    is the refused target (redacted). Allow a host with
    ``CameraConfig.allow_redirect_hosts``.
    """

    def __init__(self, message: str, *, location: str = "", **where: Unpack[_Where]) -> None:
        super().__init__(message, **where)
        self.location = location


class StreamError(CamError):
    """Base class of errors of a media stream."""


class StreamOpenError(StreamError):
    """The stream could not be opened (bad SDP, no video track, unsupported codec)."""


class StreamStalledError(StreamError):
    """No media arrived for ``stall_timeout`` seconds."""


class StreamEndedError(StreamError):
    """The source ended (a file or a finite stream) and does not loop."""


class StreamDecodeError(StreamError):
    """The media could not be decoded."""


class PrivacyModeError(CamError):
    """The device is in privacy mode: it captures nothing until the owner switches it off.

    Streams end with it and snapshots raise it, so an app can tell a camera
    its owner covered from a fault.
    """


class RecordingError(CamError, OSError):
    """A recording could not be written: disk full, directory gone, permissions.

    Problems known before any media is read (a missing directory, an unknown
    container) are `ConfigurationError` instead.
    """

    def __init__(self, message: str, *, scheme: str | None = None, url: str | None = None) -> None:
        CamError.__init__(self, message, scheme=scheme, url=url)

    def __str__(self) -> str:
        return CamError.__str__(self)


class CameraClosedError(CamError):
    """The camera, hub or stream was closed; closed objects cannot be reopened."""
