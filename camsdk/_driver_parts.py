"""Parts that camera and hub drivers kept writing again, written once for the kit.

- `lazy_exports`: a driver package's ``__getattr__`` that imports each public
  name from its submodule on first use (``import camsdk.drivers.acme`` stays
  cheap; the hub and events code load only when asked for).
- `SessionSlot`: the session a camera or hub holds from ``connect`` to
  ``close``, with that lifecycle and the `CameraClosedError` wording.
- `hub_camera_url` and `own_camera_url`: the URL a hub lists for one of its
  cameras, and the check that a `HubCamera` handed back to
  ``camera_driver`` is one of them.
- `device_snapshot`: a `Snapshot` from the JPEG bytes a device sent, or the
  typed error when they are not a picture.

Drivers reach these through `camsdk.driver`, like the rest of the kit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._errors import CameraClosedError, ConfigurationError
from ._jpeg import require_jpeg
from ._models import Snapshot
from ._url import CameraURL

if TYPE_CHECKING:  # pragma: no cover
    from ._driver import HubCamera, HubDriver

__all__ = ["SessionSlot", "device_snapshot", "hub_camera_url", "lazy_exports", "own_camera_url"]

T = TypeVar("T")


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing each name of ``exports`` from its submodule on first use.

    ``exports`` maps a public name to the module that defines it, relative to
    ``package`` (``{"AcmeDriver": "._driver"}``). In a driver package's
    ``__init__.py``::

        __all__ = ["AcmeDriver", "AcmeHub"]
        __getattr__ = lazy_exports(__name__, {"AcmeDriver": "._driver", "AcmeHub": "._hub"})

        if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
            from ._driver import AcmeDriver as AcmeDriver
            from ._hub import AcmeHub as AcmeHub

    Any other name is an `AttributeError`, as for a plain module.
    """
    table = dict(exports)

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    return __getattr__


class SessionSlot(Generic[T]):
    """The session a camera or hub driver holds from ``connect`` to ``close``, and that lifecycle.

    Not connected -> connected (`fill`; `take` empties it again after a
    failed connect) -> closed (`close`, for good: a closed driver is never
    reopened). Made in ``setup`` with what the errors should
    say (``SessionSlot[AcmeSession]("camera", scheme="acme", url=shown)``),
    where ``owner`` is ``"camera"`` or ``"hub"`` and ``url`` the redacted URL.
    `get` hands back the session or raises `camsdk.CameraClosedError`
    ("camera is closed" / "camera is not connected"); `check_open` is the
    first line of ``connect``.
    """

    __slots__ = ("_closed", "_value", "owner", "scheme", "url")

    def __init__(self, owner: str, *, scheme: str, url: str) -> None:
        """An empty, open slot (no I/O)."""
        self.owner = owner
        self.scheme = scheme
        self.url = url
        self._value: T | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def check_open(self) -> None:
        """Raise `camsdk.CameraClosedError` once the slot is closed."""
        if self._closed:
            raise CameraClosedError(f"{self.owner} is closed", scheme=self.scheme, url=self.url)

    def fill(self, value: T) -> T:
        """Hold ``value`` (the session ``connect`` acquired) and return it."""
        self._value = value
        return value

    def peek(self) -> T | None:
        """The held session, or ``None`` (no error either way)."""
        return self._value

    def get(self) -> T:
        """The held session; `camsdk.CameraClosedError` when closed or not yet connected."""
        self.check_open()
        if self._value is None:
            raise CameraClosedError(
                f"{self.owner} is not connected", scheme=self.scheme, url=self.url
            )
        return self._value

    def take(self) -> T | None:
        """Empty the slot and hand back what was held (``None`` if nothing), staying open.

        For a ``connect`` that failed half-way: the caller releases the
        session, and a later ``connect`` may try again.
        """
        value, self._value = self._value, None
        return value

    def close(self) -> T | None:
        """Close for good and hand back what was held, for the caller to release.

        ``None`` when nothing was held or the slot was already closed, so a
        second ``close`` releases nothing twice.
        """
        self._closed = True
        return self.take()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self._value is not None else "idle"
        return f"SessionSlot({self.owner} {self.url!r}, {state})"


def hub_camera_url(
    hub: HubDriver[Any],
    path: str,
    *query: tuple[str, str],
    host: str | None = None,
    exclude: Iterable[str] = (),
) -> str:
    """The URL ``hub`` lists for one of its cameras (`HubCamera.url`).

    The hub's scheme, host and port without its credentials (``host``
    replaces the host where cameras are named that way), ``path``, then the
    options the hub was given explicitly (less ``exclude``), so the camera
    opens as the hub was configured, then ``query``.
    """
    url = hub.url
    shared = tuple(hub.options.to_query(exclude=exclude).items())
    camera = CameraURL(url.scheme, url.host if host is None else host, url.port, path,
                       (*shared, *query))
    return camera.unsafe_str()


def own_camera_url(
    hub: HubDriver[Any],
    camera: HubCamera,
    *,
    same_port: bool = True,
    belongs: Callable[[CameraURL], bool] | None = None,
    owner: str = "this hub",
) -> CameraURL:
    """``camera.url`` parsed, once it names one of ``hub``'s cameras; else `ConfigurationError`.

    One of its cameras has the hub's scheme and host (and port, unless
    ``same_port`` is false) and passes the vendor's own ``belongs`` check
    (a channel the device has, say). The error says ``camera ... does not
    belong to <owner>``.
    """
    url = CameraURL.parse(camera.url)
    if (
        url.scheme != hub.url.scheme
        or url.host != hub.url.host
        or (same_port and url.port != hub.url.port)
        or (belongs is not None and not belongs(url))
    ):
        raise ConfigurationError(
            f"camera {camera.id!r} does not belong to {owner}", scheme=hub.url.scheme,
            url=url.redacted(),
        )
    return url


def device_snapshot(
    data: bytes,
    *,
    content_type: str,
    camera_id: str,
    scheme: str,
    url: str,
    captured_at: datetime | None = None,
) -> Snapshot:
    """A `Snapshot` (``source="device"``) of the JPEG bytes a device sent.

    The magic bytes and the frame header decide, not the content type: an
    error page or an empty body is `camsdk.CameraProtocolError` (see
    `require_jpeg`). ``captured_at`` defaults to now.
    """
    width, height = require_jpeg(data, content_type=content_type, scheme=scheme, url=url)
    return Snapshot(
        jpeg=data, width=width, height=height,
        captured_at=captured_at if captured_at is not None else datetime.now(UTC),
        source="device", camera_id=camera_id,
    )
