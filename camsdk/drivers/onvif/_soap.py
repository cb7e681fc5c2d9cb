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
- **Hardened reading**: a response is read with a size cap (checked on
  ``Content-Length`` and while streaming), parsed by `camsdk.drivers.onvif._xml`
  (no DTDs, no entities, no external fetches), redirects are not followed.
- **Faults** become typed errors (`_envelope.fault_error`), whatever HTTP
  status they come with.
- Transport failures become `CameraTimeoutError` / `CameraUnreachableError`.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import httpx

from camsdk._errors import (
    AuthenticationError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
)
from camsdk._http import tls_context
from camsdk._log import get_logger
from camsdk._models import Credentials
from camsdk._url import redact_text

from . import _xml as x
from ._envelope import envelope, fault_error, username_token
from ._urls import UrlPolicy

__all__ = ["AuthMode", "SoapSession", "gather_pair"]

A = TypeVar("A")
B = TypeVar("B")

log = get_logger("camsdk.onvif.soap")

AuthMode = Literal["auto", "wsse", "digest", "both"]

#: Default cap on one SOAP answer. A 64-channel NVR's GetProfiles is ~0.5 MB.
MAX_SOAP_BYTES = 2 * 1024 * 1024



class _Transport(httpx.AsyncBaseTransport):
    """Plain HTTP at once, TLS only when an ``https:`` URL comes up.

    Most cameras speak plain HTTP on the LAN; they should not pay for a CA
    bundle on connect. The plain transport never does TLS, so the context it
    is built with (required by httpx, cheap to make) is never used.
    """

    def __init__(self, verify: bool) -> None:
        self._verify = verify
        self._plain = httpx.AsyncHTTPTransport(verify=_PLAIN_CONTEXT)
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            if self._tls is None:
                self._tls = httpx.AsyncHTTPTransport(verify=tls_context(self._verify))
            return await self._tls.handle_async_request(request)
        return await self._plain.handle_async_request(request)

    async def aclose(self) -> None:
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()


_PLAIN_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _challenge_schemes(response: httpx.Response) -> set[str]:
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
        policy: UrlPolicy,
        credentials: Credentials | None,
        auth: AuthMode = "auto",
        timeout: float = 10.0,
        verify_tls: bool = True,
        max_bytes: int = MAX_SOAP_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.device_url = device_url
        self.policy = policy
        self.shown = policy.shown or None
        self._credentials = credentials
        self._mode: Literal["wsse", "digest", "basic", "both"] = "wsse" if auth == "auto" else auth
        self._may_switch = auth == "auto"
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._verify = verify_tls
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
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

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client (made on first use)."""
        if self._closed:
            raise CameraProtocolError("ONVIF session is closed", scheme="onvif", url=self.shown)
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport or _Transport(self._verify),
                follow_redirects=False,
                timeout=self.timeout,
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connections. Idempotent."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

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
    ) -> tuple[httpx.Response, bytes]:
        """Send one request; read at most ``max_bytes`` of the answer. Typed errors only."""
        limit = max_bytes if max_bytes is not None else self.max_bytes
        deadline = timeout if timeout is not None else self.timeout
        try:
            request = self.client.build_request(
                method, url, content=content, headers=headers, timeout=deadline
            )
            response = await self.client.send(
                request, auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT, stream=True
            )
            try:
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > limit:
                    raise CameraProtocolError(
                        f"device answer of {int(length)} bytes exceeds the {limit}-byte cap",
                        scheme="onvif",
                        url=self.shown,
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise CameraProtocolError(
                            f"device answer exceeds the {limit}-byte cap",
                            scheme="onvif",
                            url=self.shown,
                        )
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise CameraTimeoutError(
                f"no answer within {deadline:g} s", scheme="onvif", url=self.shown
            ) from exc
        except httpx.TransportError as exc:
            raise CameraUnreachableError(
                f"connection failed: {redact_text(str(exc)) or type(exc).__name__}",
                scheme="onvif",
                url=self.shown,
            ) from exc
        except httpx.HTTPError as exc:
            raise CameraProtocolError(
                f"HTTP error: {redact_text(str(exc))}", scheme="onvif", url=self.shown
            ) from exc
        return response, b"".join(chunks)

    async def fetch(
        self,
        url: str,
        *,
        credentials: Credentials | None,
        max_bytes: int,
        timeout: float | None = None,
    ) -> tuple[httpx.Response, bytes]:
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
        response, data = await self.request(
            "GET", url, auth=auth, max_bytes=max_bytes, timeout=timeout
        )
        if response.status_code == 401 and "basic" in _challenge_schemes(response):
            auth = httpx.BasicAuth(credentials.username, credentials.password.get_secret_value())
            response, data = await self.request(
                "GET", url, auth=auth, max_bytes=max_bytes, timeout=timeout
            )
        if response.status_code < 300:
            self._fetch_auth[key] = auth
        return response, data

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
            response, data = await self.request(
                "POST", url, content=content, headers=headers, auth=http_auth, timeout=timeout
            )
            status = response.status_code
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

    def _switch_auth(self, response: httpx.Response, sent_mode: str) -> bool:
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
        action = f"{x.NS['tds']}/GetSystemDateAndTime"
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
