"""The Dahua CGI API of one device, on the kit's `DeviceHttpClient`.

Every request goes through `DahuaApi.fetch`, which reads the answer whatever
its status (the CGI puts errors in bodies) and turns what it means into the
camsdk tree:

- HTTP 401/403, or an ``Error`` body saying the login failed or the user is
  locked: `AuthenticationError`. The API then refuses every further request
  *without sending it* (`DahuaApi.refused`): Dahua firmware locks the account
  after five wrong passwords, so nothing may keep knocking with a wrong one.
  A new session (the camera or hub opened again) tries once more.
- HTTP 404/501: `DeviceError` with the status as ``code`` (firmware without
  that CGI).
- An ``Error`` body (often with HTTP 200): `DeviceError` with the device's
  reason as ``code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from camsdk.driver import (
    AuthenticationError,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    get_logger,
    redact_text,
)

from ._text import error_reason, parse_kv

__all__ = ["CGI_MAX_BYTES", "DahuaApi", "is_unsupported"]

log = get_logger("camsdk.dahua")

#: Cap on a CGI answer (a 64-channel NVR's config tables are a few hundred KB).
CGI_MAX_BYTES = 2 * 1024 * 1024
_LOGIN_WORDS = ("login failed", "locked", "unauthorized", "not authorized")


def is_unsupported(exc: BaseException) -> bool:
    """Whether ``exc`` says the device has no such CGI (HTTP 404 or 501)."""
    return isinstance(exc, DeviceError) and exc.code in ("404", "501")


class DahuaApi:
    """Requests to one device's CGI API (see the module docstring). No I/O until used."""

    def __init__(self, http: DeviceHttpClient, *, shown: str) -> None:
        self.http = http
        self.shown = shown
        #: The authentication failure that stopped this session, if any.
        self.refused: AuthenticationError | None = None

    def __repr__(self) -> str:
        return f"DahuaApi({self.shown!r})"

    def check_refused(self) -> None:
        """Raise the stored `AuthenticationError` again (no request) once the login failed."""
        if self.refused is not None:
            raise AuthenticationError(
                f"{self.refused} (not retried: the device locks accounts after repeated "
                "failures)",
                scheme="dahua", url=self.shown,
            )

    def refuse(self, action: str, detail: str) -> AuthenticationError:
        """Record a refused login and return the error to raise."""
        error = AuthenticationError(f"{action}: {detail}", scheme="dahua", url=self.shown)
        self.refused = error
        return error

    def _login_failure(self, action: str, status: int, text: str) -> AuthenticationError:
        lowered = text.lower()
        if "lock" in lowered:
            detail = f"the device refused the login and reports the account locked (HTTP {status})"
        elif self.http.has_auth:
            detail = f"the device refused the credentials (HTTP {status})"
        else:
            detail = f"the device requires credentials (HTTP {status})"
        return self.refuse(action, detail)

    async def fetch(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        action: str,
        method: str = "GET",
        timeout: float | None = None,
        max_bytes: int = CGI_MAX_BYTES,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        auth: bool = True,
    ) -> DeviceResponse:
        """One request, its answer read whatever the status; login failures raised."""
        self.check_refused()
        try:
            response = await self.http.request(
                method, path, params=dict(params or {}), action=action, timeout=timeout,
                max_bytes=max_bytes, headers=headers, content=content, check=False, auth=auth,
            )
        except AuthenticationError as exc:
            self.refused = exc
            raise
        if response.status in (401, 403):
            raise self._login_failure(action, response.status, response.text[:400])
        return response

    def check_text(self, response: DeviceResponse, action: str) -> str:
        """The body of a CGI answer, or the typed error it stands for."""
        status = response.status
        text = response.text
        if status in (404, 501):
            raise DeviceError(
                f"{action}: the device does not offer this (HTTP {status})",
                scheme="dahua", url=self.shown, code=str(status),
            )
        reason = error_reason(text)
        if reason is not None:
            if any(word in reason.lower() for word in _LOGIN_WORDS):
                raise self._login_failure(action, status, reason)
            shown = redact_text(reason) or "no reason given"
            raise DeviceError(
                f"{action}: the device answered Error ({shown})",
                scheme="dahua", url=self.shown, code=shown,
            )
        if not 200 <= status < 300:
            raise DeviceError(
                f"{action}: the device answered HTTP {status}",
                scheme="dahua", url=self.shown, code=str(status),
            )
        return text

    async def cgi(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        action: str,
        timeout: float | None = None,
    ) -> dict[str, str]:
        """A CGI call answered with ``key=value`` lines, parsed."""
        response = await self.fetch(path, params, action=action, timeout=timeout)
        return parse_kv(self.check_text(response, action))

    async def command(
        self, path: str, params: Mapping[str, Any], *, action: str, timeout: float | None = None
    ) -> None:
        """A CGI call answered with ``OK`` (or an ``Error`` body, raised)."""
        response = await self.fetch(path, params, action=action, timeout=timeout)
        self.check_text(response, action)

    async def magic(self, action: str, **params: str) -> dict[str, str]:
        """``/cgi-bin/magicBox.cgi?action=<action>``."""
        return await self.cgi(
            "/cgi-bin/magicBox.cgi", {"action": action, **params}, action=f"magicBox {action}"
        )

    async def config(self, name: str) -> dict[str, str]:
        """``/cgi-bin/configManager.cgi?action=getConfig&name=<name>`` (``table.`` dropped)."""
        return await self.cgi(
            "/cgi-bin/configManager.cgi",
            {"action": "getConfig", "name": name},
            action=f"getConfig {name}",
        )
