"""The official Integration API (``/proxy/protect/integration/v1``, ``X-API-KEY``).

It lists cameras (``/cameras``) and the console (``/nvrs``, ``/meta/info``)
with fewer fields than the private bootstrap: no firmware, no channels. RTSPS
URLs are handed out per quality by ``/cameras/{id}/rtsps-stream`` (created
with a POST when the console has none yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from camsdk.driver import CameraProtocolError

from ._model import MAX_CAMERAS, QUALITIES, ConsoleInfo, ProtectCamera, parse_integration_camera

if TYPE_CHECKING:  # pragma: no cover
    from ._session import ConsoleSession

__all__ = ["integration_bootstrap", "rtsps_streams"]

BASE = "/proxy/protect/integration/v1"


def _first(data: Any) -> Mapping[str, Any]:
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return data[0]
    return data if isinstance(data, Mapping) else {}


async def integration_bootstrap(session: ConsoleSession) -> tuple[ConsoleInfo, list[ProtectCamera]]:
    """The console and its cameras as the Integration API lists them."""
    meta = (await session.request("GET", f"{BASE}/meta/info", action="meta info")).json()
    nvr = _first((await session.request("GET", f"{BASE}/nvrs", action="console")).json())
    listed = (await session.request("GET", f"{BASE}/cameras", action="cameras")).json()
    if not isinstance(listed, list):
        raise CameraProtocolError("the console's camera list is not a list", scheme="unifi",
                                  url=session.shown)
    version = meta.get("applicationVersion") if isinstance(meta, Mapping) else None
    console = ConsoleInfo(
        id=str(nvr.get("id", ""))[:64] or session.host,
        name=str(nvr.get("name", ""))[:256],
        model=str(nvr.get("marketName") or nvr.get("type") or "")[:256],
        mac=str(nvr.get("mac", ""))[:32],
        version=str(version or "")[:64],
    )
    return console, [parse_integration_camera(c) for c in listed[:MAX_CAMERAS]]


async def rtsps_streams(session: ConsoleSession, camera_id: str) -> dict[str, str]:
    """The camera's RTSPS URLs by quality, created on the console when missing."""
    path = f"{BASE}/cameras/{camera_id}/rtsps-stream"
    found = (await session.request("GET", path, action="RTSPS streams")).json()
    urls = _urls(found)
    if not urls:
        created = await session.request("POST", path, action="create RTSPS streams",
                                        json={"qualities": list(QUALITIES)})
        urls = _urls(created.json())
    return urls


def _urls(data: Any) -> dict[str, str]:
    if not isinstance(data, Mapping):
        return {}
    return {q: data[q][:512] for q in QUALITIES if isinstance(data.get(q), str) and data[q]}
