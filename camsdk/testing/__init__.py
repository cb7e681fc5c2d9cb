"""Test tools for camsdk users and for camsdk itself.

- `HttpDevice` (with `Request`, `Response`, `StreamingResponse`): a small
  loopback HTTP/1.1 device for simulators and hostile-device tests (routes,
  Digest/Basic auth with lockout, streamed bodies, faults such as trickling,
  endless headers, lying Content-Length, half-open sockets).
- `OnvifDevice`: a simulated ONVIF device on 127.0.0.1 (SOAP over HTTP,
  WS-Discovery responder, PTZ, PullPoint events) whose stream is an `RtspServer`.
- `RtspServer`: a small asyncio RTSP server (DESCRIBE/SETUP/PLAY, TCP
  interleaved, optional UDP, Digest auth) serving generated H.264/H.265 and AAC,
  with fault injection (`RtspFault`).
- `generate_source`: a small encoded loop for the server.
- `virtual_device`: the test handle of the built-in ``virtual://`` camera
  (inject events and faults, read counters).
- `closed_port`, `wait_until`: a port where nothing listens (for the
  conformance suite's ``unreachable_url``), a bounded wait on a condition.
- `self_signed_tls` (`SelfSignedCertificate`): a fresh self-signed
  certificate and server context, as every TLS simulator serves.
- Vendor simulators on 127.0.0.1, shaped on each vendor's documented and
  observed behaviour: `HikvisionDevice` (ISAPI, with `PTZHead`), `DahuaDevice`
  (Dahua, Amcrest and Lorex HTTP APIs, `EmittedEvent`), `ReolinkDevice` (JSON
  API, `SimChannel` for NVR channels), `UnifiConsole` (a UniFi Protect console),
  `TapoDevice` (a Tapo camera's encrypted local API, with `TAPO_TOPICS`),
  `NestCloud` (Google's OAuth, SDM REST, Pub/Sub and streams, with
  `NestSimDevice`), `RingCloud` (Ring's OAuth with 2FA, devices, push and
  polled events, live view, history; with `RingSimDevice`).
- `WebRtcAnswerer` (with `SentVideo`): a loopback WebRTC peer answering like a
  camera (extra ``webrtc``), H.264 from the virtual scene without re-encoding.
- `camsdk.testing.conformance`: a pytest suite any driver can run.
- `camsdk.testing.pytest_plugin`: fixtures that fail a test which leaks a
  camera, stream, thread, task or socket.

Importing this package imports PyAV (the server encodes media).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "TAPO_TOPICS",
    "DahuaDevice",
    "EmittedEvent",
    "EncodedLoop",
    "HikvisionDevice",
    "HttpDevice",
    "MediaLoop",
    "NestCloud",
    "NestSimDevice",
    "OnvifDevice",
    "OnvifEventMessage",
    "PTZHead",
    "ReolinkDevice",
    "RingCloud",
    "RingSimDevice",
    "Request",
    "Response",
    "RtspFault",
    "RtspServer",
    "SelfSignedCertificate",
    "SentVideo",
    "SimChannel",
    "StreamingResponse",
    "TapoDevice",
    "UnifiConsole",
    "WebRtcAnswerer",
    "closed_port",
    "self_signed_tls",
    "generate_source",
    "virtual_device",
    "wait_until",
]

_EXPORTS = {
    "NestCloud": "camsdk.testing._nest_cloud",
    "NestSimDevice": "camsdk.testing._nest_cloud",
    "RingCloud": "camsdk.testing._ring_cloud",
    "RingSimDevice": "camsdk.testing._ring_cloud",
    "TapoDevice": "camsdk.testing._tapo_device",
    "TAPO_TOPICS": "camsdk.testing._tapo_device",
    "WebRtcAnswerer": "camsdk.testing._webrtc_peer",
    "SentVideo": "camsdk.testing._webrtc_peer",
    "HikvisionDevice": "camsdk.testing._hikvision_device",
    "PTZHead": "camsdk.testing._hikvision_device",
    "DahuaDevice": "camsdk.testing._dahua_device",
    "EmittedEvent": "camsdk.testing._dahua_device",
    "ReolinkDevice": "camsdk.testing._reolink_device",
    "SimChannel": "camsdk.testing._reolink_device",
    "UnifiConsole": "camsdk.testing._unifi_device",
    "EncodedLoop": "camsdk.testing._rtsp_server",
    "HttpDevice": "camsdk.testing._http_device",
    "Request": "camsdk.testing._http_device",
    "Response": "camsdk.testing._http_device",
    "StreamingResponse": "camsdk.testing._http_device",
    "MediaLoop": "camsdk.testing._rtsp_server",
    "OnvifDevice": "camsdk.testing._onvif_device",
    "OnvifEventMessage": "camsdk.testing._onvif_device",
    "RtspFault": "camsdk.testing._rtsp_server",
    "RtspServer": "camsdk.testing._rtsp_server",
    "closed_port": "camsdk.testing._waiting",
    "self_signed_tls": "camsdk.testing._tls",
    "SelfSignedCertificate": "camsdk.testing._tls",
    "generate_source": "camsdk.testing._rtsp_server",
    "virtual_device": "camsdk.drivers.virtual",
    "wait_until": "camsdk.testing._waiting",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'camsdk.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:  # pragma: no cover
    from camsdk.drivers.virtual import virtual_device as virtual_device
    from camsdk.testing._dahua_device import DahuaDevice as DahuaDevice
    from camsdk.testing._dahua_device import EmittedEvent as EmittedEvent
    from camsdk.testing._hikvision_device import HikvisionDevice as HikvisionDevice
    from camsdk.testing._hikvision_device import PTZHead as PTZHead
    from camsdk.testing._http_device import (
        HttpDevice as HttpDevice,
    )
    from camsdk.testing._http_device import (
        Request as Request,
    )
    from camsdk.testing._http_device import (
        Response as Response,
    )
    from camsdk.testing._http_device import (
        StreamingResponse as StreamingResponse,
    )
    from camsdk.testing._nest_cloud import NestCloud as NestCloud
    from camsdk.testing._nest_cloud import NestSimDevice as NestSimDevice
    from camsdk.testing._onvif_device import (
        OnvifDevice as OnvifDevice,
    )
    from camsdk.testing._onvif_device import (
        OnvifEventMessage as OnvifEventMessage,
    )
    from camsdk.testing._reolink_device import ReolinkDevice as ReolinkDevice
    from camsdk.testing._reolink_device import SimChannel as SimChannel
    from camsdk.testing._ring_cloud import RingCloud as RingCloud
    from camsdk.testing._ring_cloud import RingSimDevice as RingSimDevice
    from camsdk.testing._rtsp_server import (
        EncodedLoop as EncodedLoop,
    )
    from camsdk.testing._rtsp_server import (
        MediaLoop as MediaLoop,
    )
    from camsdk.testing._rtsp_server import (
        RtspFault as RtspFault,
    )
    from camsdk.testing._rtsp_server import (
        RtspServer as RtspServer,
    )
    from camsdk.testing._rtsp_server import (
        generate_source as generate_source,
    )
    from camsdk.testing._tapo_device import TAPO_TOPICS as TAPO_TOPICS
    from camsdk.testing._tapo_device import TapoDevice as TapoDevice
    from camsdk.testing._tls import SelfSignedCertificate as SelfSignedCertificate
    from camsdk.testing._tls import self_signed_tls as self_signed_tls
    from camsdk.testing._unifi_device import UnifiConsole as UnifiConsole
    from camsdk.testing._waiting import (
        closed_port as closed_port,
    )
    from camsdk.testing._waiting import (
        wait_until as wait_until,
    )
    from camsdk.testing._webrtc_peer import SentVideo as SentVideo
    from camsdk.testing._webrtc_peer import WebRtcAnswerer as WebRtcAnswerer
