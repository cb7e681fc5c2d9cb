"""ISAPI over the kit's `DeviceHttpClient`: typed errors, lockout care, one session per device.

`IsapiClient` sends every request with ``check=False`` and reads the answer
itself, because ISAPI puts its errors in bodies:

- **401** is a refused login. Firmware often adds a ``userCheck`` document
  saying whether the account is now locked and for how long; the
  `camsdk.AuthenticationError` says so. The client then *refuses locally*:
  no request of this session reaches the device again, and for
  ``auth_cooldown`` seconds (or until the lock the device announced ends)
  no other session with the same user and password does either, so no
  retry loop anywhere in the process can run up the device's lockout count.
- **403** is *not* an authentication failure on Hikvision: firmware answers
  403 with ``ResponseStatus`` ``notSupport`` for features it lacks, and for
  users without a permission. It is a `camsdk.DeviceError`.
- A 200 answer may still be a ``ResponseStatus`` with an error code.

`HikSession` is what one login to a device buys: the client, the device's
identity, its channel catalogue (loaded once) and its one alert stream. It
is shared through `SESSIONS` by every camera and hub on the device.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from camsdk.driver import (
    AuthenticationError,
    BodyReader,
    CameraProtocolError,
    CamError,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    DeviceSessions,
    get_logger,
)
from camsdk.driver import xml as x

from ._documents import (
    DeviceIdentity,
    InputChannel,
    StreamChannel,
    parse_identity,
    parse_input_channels,
    parse_proxy_channels,
    parse_response_status,
    parse_rtsp_port,
    parse_stream_channels,
    parse_user_check,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._alert_stream import AlertHub

__all__ = [
    "SESSIONS",
    "Catalog",
    "HikSession",
    "IsapiClient",
    "is_unsupported",
    "login_key",
]

log = get_logger("camsdk.hikvision")

SCHEME = "hikvision"
#: Cap on an ISAPI document (channel lists of 256-channel NVRs stay far below it).
MAX_DOCUMENT = 2 * 1024 * 1024
_XML = {"Content-Type": "application/xml; charset=UTF-8"}
# Refused logins: a per-process salt keeps even the password fingerprint useless elsewhere.
_SALT = os.urandom(16)
_REFUSED: dict[Hashable, tuple[float, str]] = {}
_REFUSED_KEPT = 1024


def _fingerprint(password: str | None) -> str:
    if password is None:
        return ""
    return hashlib.blake2b(password.encode(), key=_SALT, digest_size=12).hexdigest()


def login_key(host: str, port: int, https: bool, username: str | None,
              password: str | None) -> tuple[str, int, bool, str, str]:
    """What identifies one login to one device (the password only as a salted fingerprint)."""
    return (host.lower(), port, https, username or "", _fingerprint(password))


def is_unsupported(exc: BaseException) -> bool:
    """Whether ``exc`` says the device lacks a feature (404, ``notSupport``, 403 ...)."""
    if not isinstance(exc, DeviceError):
        return False
    code = (exc.code or "").lower()
    return code in ("404", "403", "405", "501", "notsupport", "invalidoperation") or (
        "notsupport" in code
    )


class IsapiClient:
    """ISAPI requests with Hikvision's error conventions (see the module docstring)."""

    def __init__(self, http: DeviceHttpClient, *, key: tuple[str, int, bool, str, str],
                 cooldown: float) -> None:
        self.http = http
        self.key = key
        self.cooldown = cooldown
        #: The refusal that stopped this session (no request goes out after it).
        self.refusal: AuthenticationError | None = None

    @property
    def errors(self) -> Any:
        """The error mapping of the device (scheme and redacted URL)."""
        return self.http.errors

    def _error(self, cls: type[CamError], message: str, **kw: Any) -> Any:
        return cls(message, scheme=SCHEME, url=self.http.errors.url, **kw)

    def check_refused(self) -> None:
        """Raise the standing refusal, without contacting the device."""
        if self.refusal is not None:
            raise self._error(AuthenticationError, self.refusal.message)
        now = time.monotonic()
        for key in (self.key, self.key[:4]):
            entry = _REFUSED.get(key)
            if entry is None:
                continue
            until, reason = entry
            if now < until:
                raise self._error(
                    AuthenticationError,
                    f"{reason}; not asking the device again for {until - now:.0f} s",
                )
            _REFUSED.pop(key, None)

    def _refused(self, response: DeviceResponse, action: str) -> AuthenticationError:
        """The error for a 401, remembered so nothing retries it."""
        check = None
        if response.content and b"userCheck" in response.content[:512]:
            try:
                check = parse_user_check(x.parse(response.content[:64 * 1024]))
            except x.XmlError:
                check = None
        if check is not None and check.locked:
            lock = check.unlock_seconds or 1800
            reason = f"{action}: the device has locked this account for {lock} s"
            _remember(self.key[:4], lock, reason)
        else:
            has_auth = self.http.has_auth
            reason = (f"{action}: device refused the credentials (HTTP 401)" if has_auth
                      else f"{action}: device requires credentials (HTTP 401)")
            if check is not None and check.retries_left is not None:
                reason += f"; {check.retries_left} attempts left before it locks the account"
            if has_auth and self.cooldown > 0:
                _remember(self.key, self.cooldown, reason)
        error: AuthenticationError = self._error(AuthenticationError, reason)
        self.refusal = error
        return error

    async def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | str | None = None,
        timeout: float | None = None,
        max_bytes: int = MAX_DOCUMENT,
        headers: dict[str, str] | None = None,
    ) -> DeviceResponse:
        """One request; a 401 is `AuthenticationError` (and refused from then on)."""
        self.check_refused()
        action = f"{method} {path.split('?', 1)[0]}"
        if content is not None and headers is None:
            headers = _XML
        # A stale Digest nonce (or requests that overtook each other with their nonce
        # counts) is answered again by the kit's DeviceAuth: a 401 here is a refusal.
        response = await self.http.request(
            method, path, content=content, timeout=timeout, max_bytes=max_bytes,
            headers=headers, check=False, action=action,
        )
        if response.status == 401:
            raise self._refused(response, action)
        return response

    async def open_stream(
        self, path: str, *, idle_timeout: float, on_idle: Callable[[], CamError]
    ) -> BodyReader:
        """Start a long-lived GET (the alert stream); the caller closes the reader."""
        self.check_refused()
        action = f"GET {path}"
        body = await self.http.open("GET", path, idle_timeout=idle_timeout,
                                    on_idle=on_idle, check=False, action=action)
        status = body.response.status_code
        if 200 <= status < 300:
            return body
        content = b""
        try:
            content = await body.read_all(64 * 1024, action,
                                          deadline=self.http.config.request_timeout)
        except CamError:
            content = b""  # a refusal without a readable body is still a refusal
        finally:
            await body.aclose()
        response = DeviceResponse(status, body.response.headers, content,
                                  str(body.response.url), self.http.errors, action)
        if status == 401:
            raise self._refused(response, action)
        raise self.device_error(response)

    def device_error(self, response: DeviceResponse) -> DeviceError:
        """The `DeviceError` of a non-2xx answer or a ``ResponseStatus`` with an error."""
        action = response.action
        status = None
        if response.content[:1] == b"<" or b"ResponseStatus" in response.content[:256]:
            try:
                status = parse_response_status(x.parse(response.content))
            except x.XmlError:
                status = None
        if status is not None and not status.ok:
            code = status.sub_code or str(status.code)
            text = f"{status.text} ({status.sub_code})" if status.sub_code else status.text
            return DeviceError(f"{action}: device answered {text or code}", scheme=SCHEME,
                               url=self.http.errors.url, code=code)
        return DeviceError(f"{action}: device answered HTTP {response.status}", scheme=SCHEME,
                           url=self.http.errors.url, code=str(response.status))

    async def get_xml(self, path: str, *, timeout: float | None = None) -> Element:
        """GET an ISAPI document; errors (in the status or the body) are `DeviceError`."""
        response = await self.request("GET", path, timeout=timeout)
        return self._document(response)

    async def put_xml(self, path: str, body: str, *, timeout: float | None = None,
                      method: str = "PUT") -> Element | None:
        """PUT (or POST) an ISAPI document; the answer's ``ResponseStatus`` is checked."""
        response = await self.request(method, path, content=body, timeout=timeout)
        if not response.content.strip():
            if 200 <= response.status < 300:
                return None
            raise self.device_error(response)
        return self._document(response)

    def _document(self, response: DeviceResponse) -> Element:
        if not 200 <= response.status < 300:
            raise self.device_error(response)
        root = response.xml()
        status = parse_response_status(root)
        if status is not None and not status.ok:
            raise self.device_error(response)
        return root

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.http.aclose()


def _remember(key: Hashable, seconds: float, reason: str) -> None:
    _REFUSED[key] = (time.monotonic() + seconds, reason)
    while len(_REFUSED) > _REFUSED_KEPT:
        _REFUSED.pop(next(iter(_REFUSED)))


def forget_refusals() -> None:
    """Forget every remembered refusal (tests; an application after fixing a password)."""
    _REFUSED.clear()


@dataclass(frozen=True, slots=True)
class Catalog:
    """What a device offers: its video channels, their streams and the RTSP port."""

    channels: tuple[InputChannel, ...]
    streams: dict[int, StreamChannel]
    rtsp_port: int | None
    rtsp_port_source: str

    def channel(self, number: int) -> InputChannel | None:
        """The channel with id ``number``."""
        return next((c for c in self.channels if c.id == number), None)

    def streams_of(self, number: int) -> list[StreamChannel]:
        """The streams of channel ``number``, main first."""
        return sorted((s for s in self.streams.values() if s.channel == number),
                      key=lambda s: s.id)

    @property
    def proxies(self) -> bool:
        """Whether some channels are cameras proxied by an NVR."""
        return any(c.proxy for c in self.channels)


@dataclass(eq=False)
class HikSession:
    """One login to one device, shared by its cameras and hub (see `SESSIONS`)."""

    client: IsapiClient
    identity: DeviceIdentity
    _catalog: Catalog | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    alerts: AlertHub | None = None
    #: Two-way audio channel -> codec (FFmpeg's name), read on first use.
    talk_channels: dict[int, str] | None = None

    async def catalog(self) -> Catalog:
        """The device's channels and streams, read once per session."""
        async with self._lock:
            if self._catalog is None:
                self._catalog = await load_catalog(self.client, self.identity)
            return self._catalog

    async def aclose(self) -> None:
        """Stop the alert stream and close the connections."""
        alerts, self.alerts = self.alerts, None
        if alerts is not None:
            await alerts.aclose()
        await self.client.aclose()


#: One session per device login, per event loop.
SESSIONS: DeviceSessions[HikSession] = DeviceSessions()


async def open_session(client: IsapiClient) -> HikSession:
    """Log in (read the identity); the client is closed if that fails."""
    try:
        identity = parse_identity(await client.get_xml("/ISAPI/System/deviceInfo"))
    except BaseException:
        await client.aclose()
        raise
    if not (identity.model or identity.serial):
        await client.aclose()
        raise CameraProtocolError(
            "/ISAPI/System/deviceInfo names neither a model nor a serial number",
            scheme=SCHEME, url=client.errors.url,
        )
    return HikSession(client=client, identity=identity)


async def _optional(client: IsapiClient, path: str) -> Element | None:
    """A document the device may lack (older firmware, cameras without NVR features)."""
    try:
        return await client.get_xml(path)
    except DeviceError as exc:
        if is_unsupported(exc):
            return None
        raise
    except CameraProtocolError as exc:  # an unreadable optional document: do without it
        log.debug("%s: %s", path, exc)
        return None


async def load_catalog(client: IsapiClient, identity: DeviceIdentity) -> Catalog:
    """Read streams, video inputs, NVR proxy channels and the RTSP port (concurrently)."""
    paths = [
        "/ISAPI/Streaming/channels",
        "/ISAPI/System/Video/inputs/channels",
        "/ISAPI/Security/adminAccesses",
        "/ISAPI/ContentMgmt/InputProxy/channels",
        "/ISAPI/ContentMgmt/StreamingProxy/channels",
    ]
    if not identity.recorder:
        paths = paths[:3]
    docs = await asyncio.gather(*(_optional(client, p) for p in paths))
    streams = {s.id: s for s in parse_stream_channels(docs[0])} if docs[0] is not None else {}
    channels = parse_input_channels(docs[1]) if docs[1] is not None else []
    port = parse_rtsp_port(docs[2]) if docs[2] is not None else None
    if identity.recorder:
        proxies = parse_proxy_channels(docs[3]) if docs[3] is not None else []
        known = {c.id for c in channels}
        channels += [c for c in proxies if c.id not in known]
        if docs[4] is not None:
            for stream in parse_stream_channels(docs[4], proxy=True):
                streams.setdefault(stream.id, stream)
    if not channels:
        # Cameras that do not list their inputs: one channel per stream group.
        channels = [InputChannel(id=n) for n in sorted({s.channel for s in streams.values()})]
    return Catalog(
        channels=tuple(sorted(channels, key=lambda c: c.id)),
        streams=streams,
        rtsp_port=port,
        rtsp_port_source="device" if port is not None else "default",
    )
