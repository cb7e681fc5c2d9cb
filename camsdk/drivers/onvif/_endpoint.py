"""One ONVIF endpoint, connected: the session plus what the device said about itself.

An `OnvifEndpoint` is what a camera and an NVR hub share. `OnvifEndpoint.load`
does the connect sequence in two round trips:

1. ``GetSystemDateAndTime`` (unauthenticated) for the clock offset, when
   there are credentials to stamp, beside ``GetServices`` (pre-auth by the
   ONVIF spec; ``GetCapabilities`` on firmware without it);
2. ``GetDeviceInformation``, ``GetScopes``, ``GetProfiles`` on Media2 when
   offered (else Media1) and the PTZ nodes (``GetNodes``), concurrently;

and nothing else: stream and snapshot URIs are asked for when needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraURL,
    Credentials,
    DeviceError,
    UnsupportedCapabilityError,
    get_logger,
)
from camsdk.driver import DeviceUrlPolicy as UrlPolicy
from camsdk.driver import xml as x

from ._device import DeviceIdentity, DeviceServices, get_identity, get_services
from ._media import MediaProfile, MediaService
from ._ns import NS
from ._options import OnvifHubOptions
from ._ptz import PTZNode
from ._soap import SoapSession, gather_pair

__all__ = ["OnvifEndpoint", "connect_endpoint", "credentials_for", "open_session"]

log = get_logger("camsdk.onvif")


def credentials_for(url: CameraURL, credentials: Credentials | None) -> Credentials | None:
    """Explicit credentials, else those in the URL."""
    if credentials is not None:
        return credentials
    if url.username:
        return Credentials(url.username, url.password or "")
    return None


def open_session(
    url: CameraURL,
    credentials: Credentials | None,
    config: CameraConfig,
    options: OnvifHubOptions,
) -> SoapSession:
    """A `SoapSession` for ``onvif://host[:port]`` (no I/O)."""
    scheme = "https" if options.https else "http"
    port = url.port or (443 if options.https else 80)
    bare = url.without_credentials()
    policy = UrlPolicy(
        host=url.host,
        port=port,
        https=options.https,
        allowed_hosts=frozenset(h.lower() for h in config.allow_redirect_hosts),
        rtsp_port=options.rtsp_port,
        shown=CameraURL(bare.scheme, bare.host, bare.port, "", ()).redacted(),
        scheme="onvif",
    )
    host = f"[{url.host}]" if ":" in url.host else url.host
    return SoapSession(
        device_url=f"{scheme}://{host}:{port}{options.path}",
        policy=policy,
        credentials=credentials_for(url, credentials),
        auth=options.auth,
        config=config,
    )


async def _get_nodes(session: SoapSession, xaddr: str | None) -> list[PTZNode]:
    if xaddr is None:
        return []
    try:
        answer = await session.call(
            xaddr, "GetNodes", "<tptz:GetNodes/>", action=f"{NS['tptz']}/GetNodes"
        )
    except (DeviceError, UnsupportedCapabilityError) as exc:
        log.debug("%s: GetNodes failed (%s)", session.shown, exc)
        return []
    return [PTZNode.parse(node) for node in x.findall(answer, "PTZNode")]


async def _first_services(session: SoapSession) -> DeviceServices:
    """Round trip 1: the device clock and the service list, side by side.

    ``GetServices`` is in ONVIF's pre-authentication access class, so it goes
    out unsigned while the clock offset is still unknown; firmware that wants
    credentials for it anyway is asked again, signed, once the clock is known.
    """
    if not session.has_credentials:
        return await get_services(session, auth=False)

    async def unsigned() -> DeviceServices | None:
        try:
            return await get_services(session, auth=False)
        except AuthenticationError:
            return None

    _, services = await gather_pair(session.sync_clock(), unsigned())
    return services if services is not None else await get_services(session)


async def _media(
    session: SoapSession, services: DeviceServices, media: Literal["auto", "1", "2"]
) -> tuple[MediaService | None, list[MediaProfile], list[PTZNode]]:
    """Round trip 2: profiles from the preferred media service, PTZ nodes beside them."""

    async def profiles() -> tuple[MediaService | None, list[MediaProfile]]:
        candidates: list[MediaService] = []
        if services.media2 and media in ("auto", "2"):
            candidates.append(MediaService(session, services.media2, 2))
        if services.media and media in ("auto", "1"):
            candidates.append(MediaService(session, services.media, 1))
        for service in candidates:
            try:
                return service, await service.profiles()
            except (DeviceError, UnsupportedCapabilityError) as exc:
                # A Media2 that exists on paper only: try Media1.
                log.debug(
                    "%s: media v%d GetProfiles failed (%s)", session.shown, service.version, exc
                )
        return None, []

    (chosen, found), nodes = await gather_pair(profiles(), _get_nodes(session, services.ptz))
    return chosen, found, nodes


@dataclass(slots=True)
class OnvifEndpoint:
    """A connected ONVIF device: session, services, identity, media profiles, PTZ nodes."""

    session: SoapSession
    services: DeviceServices
    identity: DeviceIdentity
    media: MediaService | None
    profiles: list[MediaProfile]
    nodes: dict[str, PTZNode] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, session: SoapSession, media: Literal["auto", "1", "2"] = "auto"
    ) -> OnvifEndpoint:
        """Run the connect sequence (module docstring)."""
        services = await _first_services(session)
        identity, (chosen, profiles, nodes) = await gather_pair(
            get_identity(session), _media(session, services, media)
        )
        return cls(
            session=session,
            services=services,
            identity=identity,
            media=chosen,
            profiles=profiles,
            nodes={node.token: node for node in nodes},
        )

    @property
    def base_id(self) -> str:
        """``onvif:<serial>`` (or ``onvif:<host:port>`` when the serial is unknown)."""
        ident = self.identity
        if ident.serial:
            key = f"{ident.vendor}-{ident.serial}" if ident.vendor else ident.serial
            return "onvif:" + "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        return f"onvif:{self.session.policy.host}:{self.session.policy.port}"

    def video_sources(self) -> list[str]:
        """Video source tokens in the order their first profile appears."""
        seen: dict[str, None] = {}
        for profile in self.profiles:
            seen.setdefault(profile.video_source or profile.video_source_configuration, None)
        return [token for token in seen if token]


async def connect_endpoint(
    url: CameraURL, credentials: Credentials | None, config: CameraConfig,
    options: OnvifHubOptions,
) -> OnvifEndpoint:
    """Open a session to the device and load it (`OnvifEndpoint.load`).

    The session is closed again when loading fails, so a failed connect
    leaves no socket behind.
    """
    session = open_session(url, credentials, config, options)
    try:
        return await OnvifEndpoint.load(session, options.media)
    except BaseException:
        await session.aclose()
        raise
