"""A small SOAP 1.2 client for ONVIF, written directly on httpx.

Not a WSDL engine: each operation builds its body as text and reads the
answer by local name. What this module does for every call:

- **WS-Security** ``UsernameToken`` with ``PasswordDigest`` (made by
  `camsdk.drivers.onvif._envelope`), its ``Created`` stamped in the
  *device's* clock: `SoapSession.sync_clock` reads the device time with an
  unauthenticated ``GetSystemDateAndTime`` and keeps the offset, so a camera
  whose clock is hours off still accepts the token. An authentication fault
  triggers one re-sync and retry (clocks jump when NTP kicks in).
- **HTTP Digest** (or Basic, when that is all the device offers) where the
  firmware answers HTTP 401: the session switches for good and drops the
  WS-Security header, which such firmware may reject as not understood.
- **Hardened reading**: requests go through the kit's `DeviceHttpClient`
  (size cap checked on ``Content-Length`` and while reading, host pinning,
  shared TLS context made only for https), answers are parsed by the kit's
  `xml` (no DTDs, no entities, no external fetches), redirects are not followed.
- **Faults** become typed errors (`_envelope.fault_error`), whatever HTTP
  status they come with.
- Transport failures become `CameraTimeoutError` / `CameraUnreachableError`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import httpx

from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraProtocolError,
    Credentials,
    DeviceHttpClient,
    DeviceResponse,
    DeviceUrlPolicy,
    get_logger,
)
from camsdk.driver import xml as x

from ._envelope import envelope, fault_error, username_token
from ._ns import NS

__all__ = ["AuthMode", "SoapSession", "gather_pair"]

A = TypeVar("A")
B = TypeVar("B")

log = get_logger("camsdk.onvif.soap")

AuthMode = Literal["auto", "wsse", "digest", "basic", "both"]

#: Default cap on one SOAP answer. A 64-channel NVR's GetProfiles is ~0.5 MB.
MAX_SOAP_BYTES = 2 * 1024 * 1024


def _challenge_schemes(response: DeviceResponse) -> set[str]:
    return {
        value.split(" ", 1)[0].strip().lower()
        for value in response.headers.get_list("www-authenticate")
    }


class SoapSession:
    """One device's SOAP transport: HTTP client, credentials, clock offset, auth mode.

    Shared by the device, media, PTZ and events code of a camera, and by every
    channel of an NVR hub. Construction does no I/O; `aclose` releases the
    HTTP connections.
    """

    def __init__(
        self,
        *,
        device_url: str,
        policy: DeviceUrlPolicy,
        credentials: Credentials | None,
        config: CameraConfig,
        auth: AuthMode = "auto",
        max_bytes: int = MAX_SOAP_BYTES,
    ) -> None:
        self.device_url = device_url
        self.policy = policy
        self.shown = policy.shown or None
        self._credentials = credentials
        self._mode: Literal["wsse", "digest", "basic", "both"] = "wsse" if auth == "auto" else auth
        self._may_switch = auth == "auto"
        self.timeout = config.request_timeout
        self.max_bytes = max_bytes
        self._http = DeviceHttpClient(
            base_url=device_url,
            scheme="onvif",
            shown_url=policy.shown,
            auth="none",
            config=config,
            allowed_hosts=policy.allowed_hosts,
            max_bytes=max_bytes,
            follow_redirects=False,
        )
        self._http_auth: httpx.Auth | None = None
        self._fetch_auth: dict[tuple[str, str], httpx.Auth] = {}
        self._set_http_auth()
        #: Device clock minus ours, measured by `sync_clock`.
        self.clock_offset = timedelta(0)
        self.clock_synced = False
        self._closed = False

    # -- plumbing --------------------------------------------------------------------------

    @property
    def credentials(self) -> Credentials | None:
        """The credentials the session signs with (also used for streams and snapshots)."""
        return self._credentials

    @property
    def has_credentials(self) -> bool:
        """Whether the session signs its requests."""
        return self._credentials is not None

    @property
    def auth_mode(self) -> str:
        """``wsse``, ``digest``, ``basic`` or ``both``: what the session sends now."""
        return self._mode

    def _set_http_auth(self) -> None:
        creds = self._credentials
        if creds is None or self._mode == "wsse":
            self._http_auth = None
        elif self._mode == "basic":
            self._http_auth = httpx.BasicAuth(creds.username, creds.password.get_secret_value())
        else:
            self._http_auth = httpx.DigestAuth(creds.username, creds.password.get_secret_value())

    async def aclose(self) -> None:
        """Close the HTTP connections. Idempotent."""
        self._closed = True
        await self._http.aclose()

    def learn_device_port(self, xaddr: str) -> None:
        """Note the port the device reports for its device service (port forwards)."""
        try:
            parts = urlsplit(xaddr)
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            return
        self.policy = replace(self.policy, device_port=port)

    def device_now(self) -> datetime:
        """Now, in the device's clock."""
        return datetime.now(UTC) + self.clock_offset

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> DeviceResponse:
        """Send one request; read at most ``max_bytes`` of the answer. Typed errors only."""
        if self._closed:
            raise CameraProtocolError("ONVIF session is closed", scheme="onvif", url=self.shown)
        return await self._http.request(
            method, url, content=content, headers=headers, auth=auth if auth else False,
            timeout=timeout if timeout is not None else self.timeout,
            max_bytes=max_bytes if max_bytes is not None else self.max_bytes, check=False,
            action=urlsplit(url).path or "/",
        )

    async def fetch(
        self,
        url: str,
        *,
        credentials: Credentials | None,
        max_bytes: int,
        timeout: float | None = None,
    ) -> DeviceResponse:
        """GET ``url`` (a snapshot), answering a Digest or Basic challenge with ``credentials``.

        The auth object is kept per URL so Digest's cached challenge saves a
        round trip on the next call.
        """
        if credentials is None:
            return await self.request("GET", url, max_bytes=max_bytes, timeout=timeout)
        key = (url, credentials.username)
        auth = self._fetch_auth.get(key)
        if auth is None:
            auth = httpx.DigestAuth(credentials.username, credentials.password.get_secret_value())
        response = await self.request("GET", url, auth=auth, max_bytes=max_bytes, timeout=timeout)
        if response.status == 401 and "basic" in _challenge_schemes(response):
            auth = httpx.BasicAuth(credentials.username, credentials.password.get_secret_value())
            response = await self.request(
                "GET", url, auth=auth, max_bytes=max_bytes, timeout=timeout
            )
        if response.status < 300:
            self._fetch_auth[key] = auth
        return response

    # -- SOAP ------------------------------------------------------------------------------

    async def call(
        self,
        url: str,
        operation: str,
        body: str,
        *,
        action: str,
        auth: bool = True,
        header: str = "",
        timeout: float | None = None,
    ) -> Element:
        """POST one SOAP request and return the first element of the answer's Body."""
        resynced = False
        for _ in range(4):
            creds = self._credentials if auth else None
            wsse = ""
            if creds is not None and self._mode in ("wsse", "both"):
                wsse = username_token(
                    creds.username,
                    creds.password.get_secret_value(),
                    self.device_now(),
                    os.urandom(16),
                )
            content = envelope(body, wsse + header)
            headers = {
                "Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"',
            }
            http_auth = self._http_auth if creds is not None else None
            sent_mode = self._mode
            response = await self.request(
                "POST", url, content=content, headers=headers, auth=http_auth, timeout=timeout
            )
            data = response.content
            status = response.status
            if status == 401 and creds is not None and self._switch_auth(response, sent_mode):
                continue
            refused = AuthenticationError(
                f"{operation}: device refused the credentials (HTTP {status})"
                if creds is not None
                else f"{operation}: device requires credentials",
                scheme="onvif",
                url=self.shown,
            )
            try:
                root = x.parse(data)
            except x.XmlError as exc:
                if status in (401, 403):
                    raise refused from None
                what = f"HTTP {status} without XML" if status >= 300 else str(exc)
                raise CameraProtocolError(
                    f"{operation}: unusable answer ({what})", scheme="onvif", url=self.shown
                ) from exc
            body_el = x.find(root, "Body")
            fault = x.find(body_el, "Fault")
            if fault is not None:
                err = fault_error(fault, operation=operation, url=self.shown)
                if (
                    isinstance(err, AuthenticationError)
                    and creds is not None
                    and not resynced
                    and self._mode in ("wsse", "both")
                ):
                    # The token may have been stamped with a stale offset.
                    resynced = True
                    await self.sync_clock()
                    continue
                raise err
            if status in (401, 403):
                raise refused
            if status >= 300:
                raise CameraProtocolError(
                    f"{operation}: device answered HTTP {status}", scheme="onvif", url=self.shown
                )
            answer = next(iter(body_el), None) if body_el is not None else None
            if answer is None:
                raise CameraProtocolError(
                    f"{operation}: answer has no SOAP body", scheme="onvif", url=self.shown
                )
            return answer
        raise AuthenticationError(
            f"{operation}: device refused every authentication method",
            scheme="onvif",
            url=self.shown,
        )

    def _switch_auth(self, response: DeviceResponse, sent_mode: str) -> bool:
        """After an HTTP 401: move to Digest (or Basic) if allowed and offered.

        True as well when a concurrent call switched since this one was sent.
        """
        if self._mode != sent_mode:
            return True
        if not self._may_switch or self._mode != "wsse":
            return False
        offered = _challenge_schemes(response)
        if "digest" in offered:
            self._mode = "digest"
        elif "basic" in offered:
            log.warning(
                "%s offers only HTTP Basic authentication for ONVIF; the password is sent "
                "with every request%s",
                self.shown,
                "" if self.device_url.startswith("https:") else " in clear text",
            )
            self._mode = "basic"
        else:
            return False
        log.debug("%s wants HTTP %s authentication; switching", self.shown, self._mode)
        self._may_switch = False
        self._set_http_auth()
        return True

    # -- clock -----------------------------------------------------------------------------

    async def sync_clock(self) -> datetime | None:
        """Measure the device clock (unauthenticated GetSystemDateAndTime); keep the offset.

        Returns the device's UTC time, or None when it gave none (the offset
        then stays as it was).
        """
        body = "<tds:GetSystemDateAndTime/>"
        action = f"{NS['tds']}/GetSystemDateAndTime"
        sent = time.time()
        try:
            answer = await self.call(
                self.device_url, "GetSystemDateAndTime", body, action=action, auth=False
            )
        except AuthenticationError:
            # Rare firmware wants credentials even for the clock; our own time then.
            answer = await self.call(
                self.device_url, "GetSystemDateAndTime", body, action=action, auth=True
            )
        received = time.time()
        device_time = x.utc_from_parts(x.find(answer, "SystemDateAndTime", "UTCDateTime"))
        if device_time is None:
            device_time = x.utc_from_parts(x.find(answer, "SystemDateAndTime", "LocalDateTime"))
            if device_time is not None:
                log.debug("%s reports local time only; taking it as UTC", self.shown)
        if device_time is None:
            return None
        # The device read its clock about halfway through the round trip, and
        # reports whole seconds (truncated): add half a second to centre the error.
        midpoint = datetime.fromtimestamp((sent + received) / 2, UTC)
        self.clock_offset = device_time + timedelta(seconds=0.5) - midpoint
        self.clock_synced = True
        if abs(self.clock_offset) > timedelta(seconds=5):
            log.debug(
                "%s clock is %.0f s off; stamping tokens in device time",
                self.shown,
                self.clock_offset.total_seconds(),
            )
        return device_time


async def gather_pair(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await two calls concurrently; when one fails the other is cancelled (no stray request)."""
    task_a, task_b = asyncio.ensure_future(first), asyncio.ensure_future(second)
    tasks: list[asyncio.Future[Any]] = [task_a, task_b]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return task_a.result(), task_b.result()
