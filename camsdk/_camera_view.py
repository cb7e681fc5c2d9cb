"""`SharedCamera`: one camera, seen by another principal, through the same door.

A process that serves cameras onward (the owner's gateway, an app with
several users) holds one `Camera` per device and must decide each viewer's
egress for that viewer, not for itself. `Camera.acting_for(principal)` gives
a `SharedCamera`: the same driver, the same shared stream sessions (so every
viewer rides the one upstream connection), the same policy, audit sink and
owner masks; only the principal differs. Every egress still goes through the
facade's gate, so the decision, its audit record and the masks are the
viewer's.

Closing a shared camera ends its own streams and event subscriptions; the
device, the stream sessions and the driver belong to the camera it came from,
and closing that one ends every shared camera's media too.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ._access import Principal
from ._camera import LIVE_CAMERAS, Camera, CameraState
from ._gate import AccessGate
from ._url import CameraURL

__all__ = ["SharedCamera"]


class SharedCamera(Camera):
    """A camera's facade acting for another principal (see the module docstring)."""

    def __init__(self, parent: Camera, principal: Principal) -> None:
        root = parent._root
        owner_gate = root._gate
        gate = AccessGate(
            principal=principal,
            policy=owner_gate.policy,
            audit=owner_gate.audit,
            masks=owner_gate.masks,
            url=root.url,
        )
        driver = root._driver
        hook = getattr(driver, "_audit_hook", None)
        # The redacted URL parses back to itself: this object never holds a secret.
        super().__init__(driver, url=CameraURL.parse(root.url), gate=gate, owns_driver=False)
        # Camera.__init__ points the driver's audit hook at the new object; the
        # device's own records stay the root's (they name the principal anyway).
        if hook is not None:
            driver._audit_hook = hook  # type: ignore[attr-defined]
        self.scheme = root.scheme
        self._parent = root
        self._info = root._info
        # The one dict of sessions per device: every view rides the same upstream.
        self._sessions = root._sessions
        self.state = CameraState.OPEN

    @property
    def _root(self) -> Camera:
        return self._parent

    def __repr__(self) -> str:
        return f"<SharedCamera {self.url} for {self.principal.id} {self.state.value}>"

    def _require_open(self) -> None:
        if self._parent.state is not CameraState.OPEN:
            self.state = CameraState.CLOSED
        super()._require_open()

    @property
    def privacy_mode(self) -> bool | None:
        """Whether the device is in privacy mode (the device's state, shared)."""
        return self._parent.privacy_mode

    async def _check_privacy(self) -> None:
        await self._parent._check_privacy()

    async def set_privacy_mode(self, on: bool, *, purpose: str = "") -> None:
        """Switch the device's privacy mode if this principal may (``config``)."""
        await super().set_privacy_mode(on, purpose=purpose)
        self._parent._privacy = on

    async def aclose(self) -> None:
        """End this principal's streams and subscriptions; the device stays open. Idempotent."""
        self.state = CameraState.CLOSED
        for stream in list(self._streams):
            await stream.aclose()
        if self._events is not None:
            await self._events.aclose()
            self._events = None
        tasks: list[Any] = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        LIVE_CAMERAS.discard(self)
