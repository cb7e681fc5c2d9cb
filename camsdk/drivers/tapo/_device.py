"""Opening a camera's shared session (certificate pin, login) and reading it once.

`take_session` gives the driver this process's session with the camera
(`_api.SESSIONS`), opening it when nobody holds it: the certificate is
pinned first (`_tls`), then the login runs. `load_state` reads the
identity, the components the firmware offers, the main stream's encoding,
the lens mask and the motor's reach in one batch (plus the motor request,
which has no batched form), once per session.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from camsdk.driver import (
    AuthenticationError,
    CameraProtocolError,
    CamError,
    DeviceHttpClient,
    UnsupportedCapabilityError,
    get_logger,
    pin_certificate,
)

from ._api import SESSIONS, SessionKey, TapoSession, refusal, session_key
from ._model import (
    DeviceIdentity,
    MotorRange,
    VideoQuality,
    read_components,
    read_identity,
    read_lens_mask,
    read_motor_range,
    read_video_quality,
)
from ._tls import PinStore

if TYPE_CHECKING:  # pragma: no cover
    from ._driver import TapoDriver

__all__ = ["DeviceState", "load_state", "take_session"]

log = get_logger("camsdk.tapo")

#: The functions read at connect, in one multipleRequest.
_READS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("getDeviceInfo", {"device_info": {"name": ["basic_info"]}}),
    ("getAppComponentList", {"app_component": {"name": "app_component_list"}}),
    ("getVideoQualities", {"video": {"name": ["main"]}}),
    ("getLensMaskConfig", {"lens_mask": {"name": ["lens_mask_info"]}}),
)


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What a session read about its camera at connect."""

    identity: DeviceIdentity
    components: frozenset[str]
    video: VideoQuality
    lens_mask: bool | None
    motor: MotorRange | None

    def offers(self, component: str) -> bool:
        """Whether the firmware lists ``component`` (``ptz``, ``lensMask`` ...)."""
        return component in self.components


async def load_state(session: TapoSession) -> DeviceState:
    """The camera's identity and abilities (see the module docstring); cached on the session."""
    if isinstance(session.state, DeviceState):
        return session.state
    info, components, video, lens = await session.multi(_READS, action="getDeviceInfo")
    if not info.ok:
        raise CameraProtocolError(
            f"getDeviceInfo: the camera answered error {info.error_code}; is this a Tapo "
            "camera?", scheme="tapo", url=session.shown)
    identity = read_identity(info.result)
    names = read_components(components.result) if components.ok else frozenset()
    motor = None
    if "ptz" in names:
        try:
            answer = await session.do({"method": "get", "motor": {"name": ["capability"]}},
                                      action="motor capability")
            motor = read_motor_range(answer)
        except UnsupportedCapabilityError:
            motor = MotorRange()
    state = DeviceState(
        identity=identity,
        components=names,
        video=read_video_quality(video.result) if video.ok else VideoQuality(),
        lens_mask=read_lens_mask(lens.result) if lens.ok else None,
        motor=motor,
    )
    session.state = state
    if state.lens_mask is not None:
        session.privacy = (state.lens_mask, time.monotonic())
    return state


async def _tls_context(driver: TapoDriver, host: str, port: int) -> ssl.SSLContext | None:
    """The pinned context for the camera, or None (system CAs, or verification off)."""
    options = driver.options
    if options.tls != "pin" or not driver.config.verify_tls:
        return None
    store = PinStore(host, port, store=options.pin_store, directory=options.pin_dir)
    _, context = await pin_certificate(
        host, port, fingerprint=options.fingerprint, load=store.load, save=store.save,
        timeout=driver.config.connect_timeout, scheme="tapo", url=driver.shown,
        renewed="after a factory reset", legacy_tls=True,
    )
    return context


async def take_session(driver: TapoDriver) -> tuple[SessionKey, TapoSession]:
    """``driver``'s camera session: this process's shared one, or a new login.

    Give it back with ``await SESSIONS.release(key)``; the last user closes it.
    """
    creds = driver.login()
    if creds is None or not creds.password.get_secret_value():
        raise AuthenticationError(
            "Tapo cameras need the login of their owner: credentials=camsdk.Credentials("
            "'admin', <TP-Link cloud password>)", scheme="tapo", url=driver.shown)
    host, port = driver.url.host, driver.url.port or 443
    username = creds.username or "admin"
    password = creds.password.get_secret_value()
    key = session_key(host, port, username, password)
    netloc = driver.url.netloc_host
    refused = refusal(key)
    if refused is not None:  # nothing is sent, not even the certificate read
        raise AuthenticationError(refused, scheme="tapo", url=driver.shown)

    async def open_session() -> TapoSession:
        context = await _tls_context(driver, host, port)
        base = f"https://{netloc}"
        http = DeviceHttpClient.for_driver(driver, base_url=base, auth="none", verify=context,
                                           headers={"Referer": base})
        session = TapoSession(http, key=key, username=username, password=password,
                              request_timeout=driver.config.request_timeout)
        try:
            await session.login()
        except BaseException:
            await http.aclose()
            raise
        return session

    return key, await SESSIONS.acquire(key, open=open_session, close=_close_session)


async def _close_session(session: TapoSession) -> None:
    try:
        await session.aclose()
    except CamError as exc:  # pragma: no cover - closing is best effort
        log.debug("%s: closing the session failed: %s", session.shown, exc)
