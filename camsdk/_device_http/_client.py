"""`DeviceHttpClient`: the one HTTP client every driver talks to its device (or cloud) with.

What it does for every request, so no driver has to:

- **TLS** verified with one shared context per process (loading the CA bundle
  costs tens of ms), built only when the first ``https`` request is made, or
  a caller-supplied context (a pinned self-signed certificate);
  ``verify_tls=False`` only by an explicit per-camera flag.
- **Host pinning**: requests, redirects included, go only to the hosts the
  caller named (the camera URL's host, ``CameraConfig.allow_redirect_hosts``
  and the driver's declared `egress_hosts`); never from https down to http.
  A refused redirect is `camsdk.RedirectRefusedError`, and nothing is sent
  to the other host.
- **Authentication**: the device's own Digest or Basic challenge
  (`DeviceAuth`: stale nonces answered again, ``nc`` counted), or a token
  with refresh and expiry hooks (`TokenAuth`).
- **Bounded reads**: every body is capped (``max_bytes``, checked against
  ``Content-Length`` and while reading) and read under the request deadline;
  JSON nested deeper than `_response.MAX_JSON_DEPTH` is refused.
- **Streamed request bodies** (async iterables of bytes: two-way audio),
  see `_upload`.
- **One error mapping** (`ErrorMapping`) for requests and streamed bodies.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx

from .._errors import CameraProtocolError, CamError, RedirectRefusedError
from .._http import tls_context
from .._lifecycle import AsyncResource
from .._log import get_logger, register_secret
from .._models import CameraConfig, Credentials
from .._url import redact_text
from ._auth import DeviceAuth
from ._body import BodyReader, close_response
from ._errors import ErrorMapping
from ._response import DeviceResponse
from ._upload import ReplayableBody, is_stream

if TYPE_CHECKING:  # pragma: no cover
    from .._driver import _DriverBase

__all__ = ["DEFAULT_MAX_BYTES", "DeviceHttpClient", "DeviceResponse", "host_allowed"]

log = get_logger("camsdk.http")

#: Default cap on one response body.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
_USER_AGENT = "camsdk"
_MAX_REDIRECTS = 3
_PLAIN_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

AuthMode = Literal["auto", "basic", "digest", "none"]
#: A request body: bytes, text, or an async iterable of bytes streamed as it is produced.
RequestContent = bytes | str | AsyncIterable[bytes] | None


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``allowed`` (``*.example.com`` allows its subdomains)."""
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


class _LazyTlsTransport(httpx.AsyncBaseTransport):
    """Plain HTTP at once, TLS only when an ``https:`` URL comes up.

    Most cameras speak plain HTTP on the LAN; they should not pay for a CA
    bundle on connect. The plain transport never does TLS, so the context it
    is built with (required by httpx, cheap to make) is never used.
    """

    def __init__(self, verify: bool | ssl.SSLContext) -> None:
        self._verify = verify
        self._plain = httpx.AsyncHTTPTransport(verify=_PLAIN_CONTEXT)
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            if self._tls is None:
                context = (
                    self._verify if isinstance(self._verify, ssl.SSLContext)
                    else tls_context(self._verify)
                )
                self._tls = httpx.AsyncHTTPTransport(verify=context)
            return await self._tls.handle_async_request(request)
        return await self._plain.handle_async_request(request)

    async def aclose(self) -> None:
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()


class DeviceHttpClient(AsyncResource):
    """HTTP to one device or one cloud account (see the module docstring). No I/O until used.

    Build one per device session, usually with `DeviceHttpClient.for_driver`;
    close it with `aclose` (drivers do that in ``close``). Relative request
    URLs resolve against ``base_url``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        scheme: str,
        shown_url: str,
        credentials: Credentials | None = None,
        auth: AuthMode | httpx.Auth = "auto",
        config: CameraConfig | None = None,
        allowed_hosts: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        verify: ssl.SSLContext | None = None,
        follow_redirects: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config if config is not None else CameraConfig()
        self.base_url = base_url
        self.errors = ErrorMapping(scheme, shown_url)
        self.max_bytes = max_bytes
        base_host = httpx.URL(base_url).host.lower()
        self.allowed_hosts = frozenset({base_host, *(h.lower() for h in allowed_hosts)} - {""})
        self._https_only = base_url.lower().startswith("https:")
        self._auth = self._make_auth(auth, credentials)
        self._headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity",
                         **(headers or {})}
        self._verify: bool | ssl.SSLContext = (
            verify if verify is not None else self.config.verify_tls
        )
        self._follow = follow_redirects
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    @classmethod
    def for_driver(
        cls,
        driver: _DriverBase[Any],
        *,
        base_url: str | None = None,
        auth: AuthMode | httpx.Auth = "auto",
        **kwargs: Any,
    ) -> DeviceHttpClient:
        """A client for ``driver``'s device: its credentials, config, hosts and redacted URL.

        ``base_url`` defaults to ``http(s)://host[:port]`` of the camera URL
        (``https`` when the URL's scheme ends in ``s``); ``allowed_hosts``
        adds to the driver's own.
        """
        url = driver.url
        if base_url is None:
            tls = url.scheme.endswith("s") and url.scheme not in ("rtsp",)
            base_url = f"{'https' if tls else 'http'}://{url.netloc_host}"
        hosts = set(driver.allowed_hosts()) | set(kwargs.pop("allowed_hosts", ()))
        return cls(
            base_url=base_url,
            scheme=url.scheme,
            shown_url=url.redacted(),
            credentials=driver.login(),
            auth=auth,
            config=driver.config,
            allowed_hosts=hosts,
            **kwargs,
        )

    @staticmethod
    def _make_auth(
        auth: AuthMode | httpx.Auth, credentials: Credentials | None
    ) -> httpx.Auth | None:
        if isinstance(auth, httpx.Auth):
            return auth
        if credentials is None or auth == "none":
            return None
        password = credentials.password.get_secret_value()
        register_secret(password)
        if auth == "basic":
            return DeviceAuth(credentials.username, password, scheme="basic")
        if auth == "digest":
            return DeviceAuth(credentials.username, password, scheme="digest")
        return DeviceAuth(credentials.username, password)

    @property
    def has_auth(self) -> bool:
        """Whether requests are authenticated."""
        return self._auth is not None

    @property
    def client(self) -> httpx.AsyncClient:
        """The underlying httpx client (made on first use). Prefer `request` and `stream`."""
        if self._closed:
            raise CameraProtocolError(
                "HTTP session is closed", scheme=self.errors.scheme, url=self.errors.url
            )
        if self._client is None:
            cfg = self.config
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                transport=self._transport or _LazyTlsTransport(self._verify),
                timeout=httpx.Timeout(cfg.request_timeout, connect=cfg.connect_timeout),
                follow_redirects=self._follow,
                max_redirects=_MAX_REDIRECTS,
                headers=self._headers,
                trust_env=False,
                event_hooks={"request": [self._check_request]},
            )
        return self._client

    async def _check_request(self, request: httpx.Request) -> None:
        """Every request, redirects included: only to allowed hosts, never downgraded."""
        host = request.url.host.lower()
        shown = redact_text(str(request.url.copy_with(query=None)))[:200]
        if not host_allowed(host, self.allowed_hosts):
            raise RedirectRefusedError(
                f"refused a request to another host ({host[:64]}); allow it with "
                "CameraConfig.allow_redirect_hosts",
                scheme=self.errors.scheme, url=self.errors.url, location=shown,
            )
        if self._https_only and request.url.scheme != "https":
            raise RedirectRefusedError(
                "refused to go from https to plain http",
                scheme=self.errors.scheme, url=self.errors.url, location=shown,
            )

    async def aclose(self) -> None:
        """Close the connections. Idempotent."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            import anyio

            with anyio.CancelScope(shield=True):
                await client.aclose()


    # -- requests --------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        *,
        action: str,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        content: RequestContent = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        auth: bool | httpx.Auth = True,
    ) -> httpx.Response:
        client = self.client
        chosen = auth if isinstance(auth, httpx.Auth) else (self._auth if auth else None)
        deadline = timeout if timeout is not None else self.config.request_timeout
        limits = httpx.Timeout(deadline, connect=self.config.connect_timeout)
        body: ReplayableBody | None = None
        with self.errors.mapping(action):
            if is_stream(content):
                if isinstance(chosen, DeviceAuth) and chosen.needs_challenge:
                    await self._learn_challenge(url, params, headers, chosen, limits, action)
                body = ReplayableBody(
                    cast("AsyncIterable[bytes]", content), errors=self.errors, action=action
                )
                built = client.build_request(method, url, params=params, headers=headers,
                                             timeout=limits)
                framing = built.headers.copy()
                if not headers or not any(k.lower() == "content-length" for k in headers):
                    framing.pop("Content-Length", None)
                    framing["Transfer-Encoding"] = "chunked"
                request = httpx.Request(method, built.url, headers=framing, stream=body,
                                        extensions=built.extensions)
            else:
                request = client.build_request(
                    method, url, params=params, headers=headers,
                    content=cast("bytes | str | None", content), json=json, data=data,
                    timeout=limits,
                )
            try:
                return await client.send(
                    request, auth=chosen if chosen is not None else httpx.USE_CLIENT_DEFAULT,
                    stream=True,
                )
            finally:
                # HTTP/1.1: the body is sent whole before the answer's head is read.
                if body is not None:
                    await body.aclose()

    async def _learn_challenge(
        self, url: str, params: Any, headers: Mapping[str, str] | None, auth: DeviceAuth,
        limits: httpx.Timeout, action: str,
    ) -> None:
        """Ask the device for its challenge with a bodiless ``HEAD``, before a streamed body.

        Answering a challenge means sending the request again, and a stream
        cannot be sent twice beyond its replay buffer; with the challenge
        known, the streamed request is signed from its first byte.
        """
        response = await self.client.request(
            "HEAD", url, params=params, headers=headers, auth=auth, timeout=limits
        )
        if response.status_code in (401, 403):
            self.errors.check_response(response, f"{action} (challenge)", has_auth=True)

    async def request(
        self,
        method: str,
        url: str,
        *,
        action: str | None = None,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        content: RequestContent = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        auth: bool | httpx.Auth = True,
        check: bool = True,
    ) -> DeviceResponse:
        """Send one request and read its body (capped, within the deadline).

        ``check=True`` raises the typed error of a non-2xx answer (401/403
        `camsdk.AuthenticationError`, others `camsdk.DeviceError` with the
        status as ``code``); ``check=False`` returns it for the driver to read
        (vendors that put error codes in bodies).

        ``content`` may be an async iterable of bytes (a two-way audio upload):
        it is streamed as it is produced, chunked unless ``headers`` declare a
        ``Content-Length``, under the same error mapping. ``timeout`` then
        bounds connecting, each write (a device that stops reading is a
        `camsdk.CameraTimeoutError`) and the answer, not the upload's length.
        The client learns the device's challenge first (a ``HEAD``) when it
        has none yet, so the stream goes out signed; see `_upload`.
        """
        name = action or f"{method} {httpx.URL(url).path or '/'}"
        limit = self.max_bytes if max_bytes is None else max_bytes
        deadline = timeout if timeout is not None else self.config.request_timeout
        response = await self._send(
            method, url, action=name, params=params, headers=headers, content=content,
            json=json, data=data, timeout=deadline, auth=auth,
        )
        body: BodyReader | None = None
        try:
            if check:
                has_auth = auth is not False and (self._auth is not None or auth is not True)
                self.errors.check_response(response, name, has_auth=has_auth)
            declared = response.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > limit:
                raise CameraProtocolError(
                    f"{name}: answer of {int(declared)} bytes exceeds the {limit}-byte cap",
                    scheme=self.errors.scheme, url=self.errors.url,
                )
            body = BodyReader(response, idle_timeout=deadline, errors=self.errors, action=name,
                              decoded=True)
            content_bytes = await body.read_all(limit, f"{name}: answer", deadline=deadline)
        finally:
            if body is not None:
                await body.aclose()
            else:
                await close_response(response)
        return DeviceResponse(
            response.status_code, response.headers, content_bytes, str(response.url),
            self.errors, name,
        )

    async def get(self, url: str, **kwargs: Any) -> DeviceResponse:
        """``request("GET", url, ...)``."""
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> DeviceResponse:
        """``request("POST", url, ...)``."""
        return await self.request("POST", url, **kwargs)

    async def open(
        self,
        method: str,
        url: str,
        *,
        idle_timeout: float,
        action: str | None = None,
        on_idle: Callable[[], CamError] | None = None,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        content: RequestContent = None,
        timeout: float | None = None,
        auth: bool | httpx.Auth = True,
        check: bool = True,
        decoded: bool = False,
    ) -> BodyReader:
        """Start a long-lived response (MJPEG, event streams) and return its `BodyReader`.

        The caller owns it: ``await body.aclose()`` closes the response.
        ``idle_timeout`` bounds each read (no byte for that long: ``on_idle()``
        or `camsdk.CameraTimeoutError`); ``timeout`` bounds connecting and the
        response headers.
        """
        name = action or f"{method} {httpx.URL(url).path or '/'}"
        # The socket's read timeout must not cut in before the reader's own.
        read = max(idle_timeout, timeout or self.config.request_timeout)
        response = await self._send(
            method, url, action=name, params=params, headers=headers, content=content,
            timeout=read, auth=auth,
        )
        try:
            if check:
                has_auth = auth is not False and (self._auth is not None or auth is not True)
                self.errors.check_response(response, name, has_auth=has_auth, decoded=decoded)
        except BaseException:
            await close_response(response)
            raise
        return BodyReader(response, idle_timeout=idle_timeout, errors=self.errors,
                          action=name, on_idle=on_idle, decoded=decoded)

    @contextlib.asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[BodyReader]:
        """`open` as a context manager: the response is closed on exit."""
        body = await self.open(method, url, **kwargs)
        try:
            yield body
        finally:
            await body.aclose()

    def __repr__(self) -> str:
        return f"DeviceHttpClient({self.errors.url!r})"

