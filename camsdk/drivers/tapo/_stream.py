"""A Tapo stream that ends with `PrivacyModeError` when the lens mask goes on.

Tapo firmware differs in what the RTSP stream does in privacy mode: some
models drop it (and refuse new ones), others keep sending a "Privacy mode
is on" picture. Either way the picture is not the scene, so camsdk does not
let it look like a working stream or a fault:

- a stream opens only after ``getLensMaskConfig`` said the mask is off
  (else `PrivacyModeError`, which the stream session treats as final);
- while it runs, the mask is checked every ``privacy_poll`` seconds and the
  stream ends with `PrivacyModeError` when it is on;
- when the camera drops the stream, the mask is checked before the error is
  passed on, so a drop *because of* privacy mode says so.

`PrivacyWatchedSource` wraps the `PacketSource` camsdk's RTSP transport
opened (`camsdk.driver.open_source`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from camsdk.driver import (
    CamError,
    PacketSource,
    PrivacyModeError,
    StreamEndedError,
    WatchedSource,
    get_logger,
)

__all__ = ["PrivacyWatchedSource"]

log = get_logger("camsdk.tapo.stream")

#: ``() -> bool``: whether the lens mask is on now (a fresh read).
PrivacyCheck = Callable[[], Awaitable[bool]]


class PrivacyWatchedSource(WatchedSource):
    """The RTSP `PacketSource` of a Tapo profile, watched for privacy mode."""

    def __init__(self, inner: PacketSource, *, check: PrivacyCheck, poll: float,
                 error: Callable[[], PrivacyModeError]) -> None:
        super().__init__(inner, self._watch_mask if poll > 0 else None,
                         explain=self._explain_end, name="camsdk-tapo-privacy")
        self._check = check
        self._poll = poll
        self._error = error

    async def _watch_mask(self) -> CamError:
        """Check the mask every ``poll`` seconds; on: end the stream."""
        while True:
            await asyncio.sleep(self._poll)
            try:
                masked = await self._check()
            except asyncio.CancelledError:
                raise
            except CamError as exc:  # the stream itself says whether the camera is gone
                log.debug("privacy check failed: %s", exc)
                continue
            if masked:
                return self._error()

    async def _explain_end(self, error: CamError | None) -> CamError:
        """A drop or an end because of privacy mode says so."""
        if not isinstance(error, PrivacyModeError) and await self._masked_now():
            return self._error()
        return error if error is not None else StreamEndedError("the camera ended the stream")

    async def _masked_now(self) -> bool:
        """Whether the mask is on (a failed check says no: the original error stands)."""
        try:
            return await self._check()
        except CamError:
            return False
