"""Building cameras and hubs from URLs: the one place arguments are checked and parsed.

`camsdk.open` and `camsdk.hub` (and hubs handing out their cameras) come
here: the URL is parsed and its secrets registered for scrubbing, the config
and principal validated, the driver class found, and the driver's options
parsed once from the URL query and keyword arguments. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from ._access import OWNER, AccessPolicy, AuditSink, Principal
from ._camera import Camera
from ._driver import _DriverBase, parse_options
from ._errors import ConfigurationError
from ._gate import AccessGate
from ._log import register_secret
from ._models import CameraConfig, Credentials
from ._url import CameraURL

if TYPE_CHECKING:  # pragma: no cover
    from ._hub import Hub
    from .privacy import PrivacyMask

__all__ = ["build_config", "open_camera", "open_hub"]

DriverT = TypeVar("DriverT", bound=_DriverBase[Any])


def build_config(
    config: CameraConfig | Mapping[str, Any] | None, url: str, scheme: str
) -> CameraConfig:
    """``config`` as a `CameraConfig` (a mapping is validated); `ConfigurationError` if bad."""
    if config is None:
        return CameraConfig()
    if isinstance(config, CameraConfig):
        return config
    if not isinstance(config, Mapping):
        raise ConfigurationError(
            f"config must be a CameraConfig or a mapping, not {type(config).__name__}",
            scheme=scheme, url=url,
        )
    try:
        return CameraConfig.model_validate(dict(config))
    except ValidationError as exc:
        errors = exc.errors()
        problem = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:3]
        )
    # Raised outside the except clause: pydantic's error quotes the input values
    # (a password among them) and must not ride along as __context__.
    raise ConfigurationError(f"invalid camera config: {problem}", scheme=scheme, url=url)


def _build_driver(
    load: Callable[[str, str], type[DriverT]],
    url: str,
    credentials: Credentials | None,
    config: CameraConfig | Mapping[str, Any] | None,
    options: dict[str, Any],
    *,
    principal: Principal | str,
    policy: AccessPolicy | None,
    audit: AuditSink | None,
    masks: Iterable[PrivacyMask],
) -> tuple[DriverT, CameraURL, AccessGate]:
    """The driver ``load`` names for ``url``, built with its parsed options, and its gate.

    What `open_camera` and `open_hub` share: the URL parsed and its secrets
    registered, the config validated, the access gate built, the driver class
    loaded, and its options parsed once from the URL query and ``options``.
    """
    parsed = CameraURL.parse(url)
    redacted = parsed.redacted()
    if parsed.password:
        register_secret(parsed.password)
    if credentials is not None:
        if not isinstance(credentials, Credentials):
            raise ConfigurationError("credentials must be camsdk.Credentials", url=redacted)
        register_secret(credentials.password.get_secret_value())
    cfg = build_config(config, redacted, parsed.scheme)
    # Before the driver: a bad principal is reported ahead of an unknown scheme.
    gate = AccessGate(principal=principal, policy=policy, audit=audit, masks=masks, url=redacted)
    driver_cls = load(parsed.scheme, redacted)
    opts, device_url = parse_options(
        driver_cls.Options, parsed, options, passthrough=driver_cls.query_passthrough
    )
    driver = driver_cls(url=device_url, credentials=credentials, config=cfg, options=opts)
    return driver, parsed, gate


def open_camera(
    url: str,
    *,
    credentials: Credentials | None = None,
    config: CameraConfig | Mapping[str, Any] | None = None,
    principal: Principal | str = OWNER,
    policy: AccessPolicy | None = None,
    audit: AuditSink | None = None,
    masks: Iterable[PrivacyMask] = (),
    **options: Any,
) -> Camera:
    """Build a `Camera` for ``url`` (no I/O). See `camsdk.open`."""
    from ._registry import load_driver

    driver, parsed, gate = _build_driver(
        load_driver, url, credentials, config, options,
        principal=principal, policy=policy, audit=audit, masks=masks,
    )
    return Camera(driver, url=parsed, gate=gate)


def open_hub(
    url: str,
    *,
    credentials: Credentials | None = None,
    config: CameraConfig | Mapping[str, Any] | None = None,
    principal: Principal | str = OWNER,
    policy: AccessPolicy | None = None,
    audit: AuditSink | None = None,
    masks: Iterable[PrivacyMask] = (),
    **options: Any,
) -> Hub:
    """Build a `Hub` for ``url`` (no I/O). See `camsdk.hub`."""
    from ._hub import Hub
    from ._registry import load_hub

    driver, parsed, gate = _build_driver(
        load_hub, url, credentials, config, options,
        principal=principal, policy=policy, audit=audit, masks=masks,
    )
    return Hub(driver, url=parsed, gate=gate)
