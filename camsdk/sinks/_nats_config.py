"""The ``[nats]`` table of the bridge and fleet config files, and the event pump that feeds it.

Secrets are never in the file, only the names of environment variables
that hold them (``password_env``, ``token_env``) or the path of a ``.creds``
file, read where the sink runs::

    [nats]
    servers = ["nats://nats.local:4222"]
    subject_prefix = "camsdk"             # subjects: camsdk.<camera>.<kind>
    stream = "CAMSDK"                     # optional: else any stream capturing camsdk.>
    ensure_stream = true                  # create it when missing (file storage)
    stream_max_age = 604800               # seconds a message is kept (created streams)
    user = "bridge"
    password_env = "NATS_PASSWORD"        # or token_env = "...", or creds_file = "..."
    tls = true                            # tls:// URLs imply it; ca_file = "/etc/ssl/ca.pem"
    queue_size = 1000
    format = "camsdk"                     # or "frigate"
    with_snapshot = false
"""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from .._errors import AccessDeniedError, ConfigurationError, UnsupportedCapabilityError
from .._events import backoff_delay, raise_if_cancelling
from .._log import get_logger, scrub
from .._models import Credentials
from ._types import BridgeCamera

if TYPE_CHECKING:  # pragma: no cover
    from .nats import JetStreamSink

__all__ = ["NatsSettings", "pump_events"]

_log = get_logger(__name__)


class NatsSettings(BaseModel):
    """The ``[nats]`` table: where events go, and how the sink logs in (by reference)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: tuple[str, ...] = Field(min_length=1)
    subject_prefix: str = "camsdk"
    stream: str | None = None
    ensure_stream: bool = False
    stream_max_age: float = Field(default=7 * 24 * 3600.0, gt=0.0)
    stream_max_bytes: int | None = Field(default=None, ge=1)
    duplicate_window: float = Field(default=120.0, gt=0.0)
    user: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    creds_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    timeout: float = Field(default=5.0, gt=0.0)
    queue_size: int = Field(default=1000, ge=16)
    format: Literal["camsdk", "frigate"] = "camsdk"
    with_snapshot: bool = False

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext_secret(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"password", "token"} & data.keys()):
            raise ValueError("put NATS secrets in environment variables (password_env, token_env)")
        return data

    @model_validator(mode="after")
    def _one_login(self) -> NatsSettings:
        logins = [self.password_env is not None or self.user is not None,
                  self.token_env is not None, self.creds_file is not None]  # fmt: skip
        if sum(logins) > 1:
            raise ValueError("give one of: user/password_env, token_env, creds_file")
        return self

    def credentials(self) -> Credentials | Path | SecretStr | None:
        """The sink's credentials, read from the environment now (never from the file)."""
        if self.creds_file is not None:
            return self.creds_file
        if self.token_env is not None:
            return SecretStr(_env(self.token_env))
        if self.user is not None or self.password_env is not None:
            password = _env(self.password_env) if self.password_env else ""
            return Credentials(self.user or "", password)
        return None

    def tls_context(self) -> ssl.SSLContext | bool:
        """``ssl.SSLContext`` with ``ca_file``, or whether to verify with the system CAs."""
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return self.tls

    def sink(self, *, name: str = "camsdk-jetstream") -> JetStreamSink:
        """A `JetStreamSink` with these settings (not entered yet)."""
        from .nats import JetStreamSink

        return JetStreamSink(
            list(self.servers),
            subject_prefix=self.subject_prefix,
            stream=self.stream,
            ensure_stream=self.ensure_stream,
            stream_max_age=self.stream_max_age,
            stream_max_bytes=self.stream_max_bytes,
            duplicate_window=self.duplicate_window,
            credentials=self.credentials(),
            tls=self.tls_context(),
            timeout=self.timeout,
            queue_size=self.queue_size,
            format=self.format,
            with_snapshot=self.with_snapshot,
            name=name,
        )

    def describe(self) -> str:
        """One line for start summaries: servers, prefix, stream, login kind; no secret."""
        login = ("a creds file" if self.creds_file else "a token" if self.token_env
                 else "a password" if self.password_env else "no login")  # fmt: skip
        secure = self.tls or self.ca_file or any(s.startswith("tls://") for s in self.servers)
        tls = "on" if secure else "off"
        stream = self.stream or f"any capturing {self.subject_prefix}.>"
        from ._nats_link import redact_server

        servers = ", ".join(redact_server(s) for s in self.servers)
        return f"{servers}, TLS {tls}, with {login}, stream {stream}"


def _env(var: str) -> str:
    value = os.environ.get(var)
    if value is None:
        raise ConfigurationError(f"NATS: environment variable {var} is not set")
    return value


async def pump_events(
    cam: BridgeCamera,
    sink: JetStreamSink,
    *,
    backoff_base: float = 0.5,
    backoff_cap: float = 30.0,
) -> None:
    """Queue ``cam``'s events on ``sink`` until cancelled, resubscribing with backoff."""
    attempt = 0
    while True:
        try:
            async with cam.events() as events:
                async for event in events:
                    attempt = 0
                    sink.send(event)
            reason = "event stream ended"
        except UnsupportedCapabilityError:
            _log.info("camera %s has no events: nothing to send to JetStream", cam.id)
            return
        except AccessDeniedError as exc:
            reason = f"events refused: {exc.reason or exc}"
        except Exception as exc:  # any camera failure: retry
            raise_if_cancelling(exc)
            reason = f"{type(exc).__name__}: {exc}"
        delay = backoff_delay(attempt, base=backoff_base, cap=backoff_cap)
        log = _log.warning if attempt == 0 else _log.info
        attempt += 1
        log("events of %s for JetStream: %s; retrying in %.1fs", cam.id, scrub(reason), delay)
        await asyncio.sleep(delay)
