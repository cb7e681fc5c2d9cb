"""One connection to NATS and its JetStream context, for `camsdk.sinks.nats.JetStreamSink`.

nats-py is imported here on first use (the ``nats`` extra), so the core
install never needs it. Its own reconnect loop is turned off: the sink
reconnects with camsdk's capped, jittered backoff and keeps the events in
its bounded queue meanwhile, instead of nats-py's unbounded-in-time pending
buffer. Every nats-py exception is translated here, in `translate_error`,
into camsdk's tree (``raise ... from exc``); messages never carry a
credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._errors import (
    AuthenticationError,
    CameraConnectionError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
)
from .._log import get_logger, register_secret, scrub

__all__ = ["JetStreamLink", "MessageRefused", "StreamSettings", "import_nats", "redact_server",
           "translate_error"]

_log = get_logger(__name__)

INSTALL_HINT = "pip install 'camsdk[nats]'"


def import_nats() -> Any:
    """The nats-py package, or a `ConfigurationError` that says how to install it."""
    try:
        return importlib.import_module("nats")
    except ImportError as exc:
        raise ConfigurationError(
            f"the JetStream sink needs nats-py: {INSTALL_HINT}"
        ) from exc


class MessageRefused(CamError):
    """The server refused this one message for good (too large, bad subject): do not retry."""


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Which stream must capture the sink's subjects, and how to create it when asked."""

    #: Stream name; None: whichever stream captures ``<prefix>.>`` (or the default name).
    name: str | None
    #: The subjects the stream captures when the sink creates it.
    subjects: tuple[str, ...]
    #: Create the stream when no stream captures the subjects.
    ensure: bool
    max_age: float
    duplicate_window: float
    max_bytes: int | None


def translate_error(exc: BaseException, *, subject: str = "", where: str = "") -> CamError:
    """camsdk's error for a nats-py (or socket) failure; the caller raises it ``from exc``."""
    nats = import_nats()
    errors = nats.errors
    js_errors = importlib.import_module("nats.js.errors")
    place = f" ({where})" if where else ""
    if isinstance(exc, CamError):
        return exc
    refused = isinstance(exc, errors.Error) and any(
        # nats-py raises a plain Error carrying the server's -ERR text for these.
        words in str(exc).lower() for words in ("authorization violation", "authentication")
    )
    if refused or isinstance(exc, errors.AuthorizationError | errors.InvalidUserCredentialsError):
        return AuthenticationError(f"the NATS server refused the credentials{place}")
    if isinstance(exc, js_errors.NoStreamResponseError):
        return ConfigurationError(
            f"no JetStream stream captures subject {subject!r}{place}: create one "
            "(or pass ensure_stream=True)"
        )
    if isinstance(exc, js_errors.BadRequestError):
        return MessageRefused(f"JetStream refused the message{place}: {scrub(str(exc))}")
    if isinstance(exc, js_errors.APIError):
        return CameraProtocolError(f"JetStream error{place}: {scrub(str(exc))}")
    if isinstance(exc, errors.MaxPayloadError | errors.BadSubjectError | errors.BadHeaderError):
        return MessageRefused(f"NATS refused the message{place}: {type(exc).__name__}")
    if isinstance(exc, errors.TimeoutError | TimeoutError):
        return CameraTimeoutError(f"no answer from NATS in time{place}")
    if isinstance(exc, errors.NoServersError | OSError):
        return CameraUnreachableError(f"cannot reach the NATS server{place}: {type(exc).__name__}")
    if isinstance(exc, errors.Error):
        return CameraConnectionError(f"NATS connection failed{place}: {type(exc).__name__}")
    return CameraConnectionError(f"NATS failure{place}: {type(exc).__name__}")


async def _quiet_error(exc: Exception) -> None:
    # nats-py reports errors here as well as raising them; the sink logs the raised ones.
    _log.debug("nats client: %s", scrub(f"{type(exc).__name__}: {exc}"))


class JetStreamLink:
    """A nats-py client and JetStream context, (re)made by `connect`; closed by `close`."""

    def __init__(
        self,
        servers: list[str],
        *,
        redacted: str,
        auth: dict[str, Any],
        tls: ssl.SSLContext | None,
        stream: StreamSettings,
        timeout: float,
        connect_timeout: float,
        name: str,
    ) -> None:
        self._servers = servers
        self.redacted = redacted
        self._auth = auth
        self._tls = tls
        self.stream = stream
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._name = name
        self._nc: Any = None
        self._js: Any = None
        #: The stream the sink publishes to, once found or created.
        self.stream_name: str | None = None
        #: Connections lost or refused.
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        """Whether a live connection is held."""
        return self._nc is not None and bool(self._nc.is_connected)

    @property
    def max_payload(self) -> int:
        """The largest message the server accepts (its INFO; 1 MiB by default)."""
        return int(self._nc.max_payload) if self._nc is not None else 1024 * 1024

    async def connect(self) -> None:
        """Connect when not connected, then find (or create) the stream. Typed errors."""
        if self.connected:
            return
        if self._nc is not None:
            self.reconnects += 1  # the server closed the connection we held
        await self.close()
        nats = import_nats()
        try:
            async with asyncio.timeout(self.connect_timeout + 1.0):
                # Made first and kept, so that a failed connect's socket is closed too.
                self._nc = nats.aio.client.Client()
                await self._nc.connect(
                    servers=self._servers,
                    name=self._name,
                    allow_reconnect=False,
                    max_reconnect_attempts=0,
                    connect_timeout=max(1, round(self.connect_timeout)),
                    error_cb=_quiet_error,
                    tls=self._tls,
                    **self._auth,
                )
                self._js = self._nc.jetstream(timeout=self.timeout)
                await self._prepare_stream()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, asyncio.CancelledError) or not isinstance(exc, Exception):
                raise
            self.reconnects += 1
            if isinstance(exc, ModuleNotFoundError) and exc.name == "nkeys":
                raise ConfigurationError(
                    "NATS .creds files need the nkeys package: pip install nkeys"
                ) from exc
            subject = self.stream.subjects[0]
            raise translate_error(exc, subject=subject, where=self.redacted) from exc

    async def _prepare_stream(self) -> None:
        settings = self.stream
        wanted = settings.subjects[0]
        if settings.name is not None:
            info = await self._stream_info(settings.name)
            if info is None:
                if not settings.ensure:
                    raise ConfigurationError(
                        f"no JetStream stream {settings.name!r} on {self.redacted}: create it "
                        "(or pass ensure_stream=True)"
                    )
                await self._create_stream(settings.name)
            self.stream_name = settings.name
            return
        found = await self._stream_for(wanted)
        if found is None:
            if not settings.ensure:
                raise ConfigurationError(
                    f"no JetStream stream captures {wanted!r} on {self.redacted}: create one "
                    "(or pass ensure_stream=True)"
                )
            found = _default_stream_name(wanted)
            await self._create_stream(found)
        self.stream_name = found

    async def _stream_info(self, name: str) -> Any:
        js_errors = importlib.import_module("nats.js.errors")
        try:
            return await self._js.stream_info(name)
        except js_errors.NotFoundError:
            return None

    async def _stream_for(self, subject: str) -> str | None:
        js_errors = importlib.import_module("nats.js.errors")
        try:
            name: str = await self._js.find_stream_name_by_subject(subject)
        except js_errors.NotFoundError:
            return None
        return name

    async def _create_stream(self, name: str) -> None:
        api = importlib.import_module("nats.js.api")
        s = self.stream
        options: dict[str, Any] = {
            "name": name,
            "subjects": list(s.subjects),
            "storage": api.StorageType.FILE,
            "max_age": s.max_age,
            "duplicate_window": s.duplicate_window,
        }
        if s.max_bytes is not None:
            options["max_bytes"] = s.max_bytes
        await self._js.add_stream(**options)
        _log.info("JetStream stream %s created on %s for %s", name, self.redacted, s.subjects)

    async def publish(self, subject: str, body: bytes, headers: dict[str, str]) -> bool:
        """Publish and wait for the JetStream ack; return whether it was a duplicate.

        Raises `MessageRefused` for a message the server will never take, a
        `ConfigurationError` when no stream captures ``subject``, other
        `CamError`\\ s for connection trouble (retry after reconnecting).
        """
        await self.connect()
        try:
            ack = await self._js.publish(
                subject, body, timeout=self.timeout, stream=self.stream_name, headers=headers
            )
        except Exception as exc:
            error = translate_error(exc, subject=subject, where=self.redacted)
            if isinstance(error, CameraConnectionError):
                self.reconnects += 1
                await self.close()  # a timed-out or broken connection is not trusted again
            raise error from exc
        return bool(ack.duplicate)

    async def close(self) -> None:
        """Close the connection (bounded); idempotent."""
        nc, self._nc, self._js = self._nc, None, None
        if nc is None or nc.is_closed:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await nc.close()


def _default_stream_name(subject: str) -> str:
    """``camsdk.>`` -> ``CAMSDK``; ``site.a.>`` -> ``SITE_A`` (stream names allow no dots)."""
    base = subject.removesuffix(".>")
    name = "".join(c.upper() if c.isalnum() else "_" for c in base)
    return name or "CAMSDK"


def redact_server(url: str) -> str:
    """The server URL without any user, password or token in it."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    if parts.scheme not in ("nats", "tls"):
        raise ConfigurationError(f"NATS server URL must be nats:// or tls://, not {parts.scheme!r}")
    if not parts.hostname:
        raise ConfigurationError("NATS server URL needs a host")
    if parts.password:
        register_secret(parts.password)
    elif parts.username:
        register_secret(parts.username)  # nats://TOKEN@host: the user part is the token
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise ConfigurationError("NATS server URL has an invalid port") from None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = "***@" if parts.username or parts.password else ""
    return f"{parts.scheme}://{userinfo}{host}{port}"
