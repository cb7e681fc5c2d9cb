"""`HttpDevice`: a small HTTP/1.1 server on loopback for vendor simulators and hostile devices.

Vendor simulators (ISAPI, CGI, JSON APIs) route requests to async handlers;
hostile-device tests switch on faults that bend the wire the way broken or
malicious firmware does::

    async with HttpDevice(auth="digest", username="admin", password="pw") as device:
        device.route("GET", "/ISAPI/System/deviceInfo",
                     Response(200, b"<DeviceInfo/>", content_type="application/xml"))
        still = device.route("GET", "/snapshot.jpg", snapshot_handler)
        still.trickle(5)                      # a slowloris still: 5 bytes per second
        url = device.url + "/snapshot.jpg"    # http://127.0.0.1:<port>/snapshot.jpg

Routing: `HttpDevice.route` takes an exact path, a compiled regex (matched in
full; the match is on `Request.match`) or a prefix (``prefix=True``). Exact
routes win, then patterns in registration order; HEAD uses the GET route
without sending the body; a path served for other methods only is a 405, any
other unknown path a 404. Keep-alive follows HTTP/1.1: ``Connection: close``
from the client, or in a handler's response headers, ends it. A handler is
``async def (Request) -> Response | StreamingResponse`` or a fixed `Response`;
one that raises answers 500 and lands in `HttpDevice.errors`.

Authentication (``auth=``): ``none``, ``basic``, ``digest`` (MD5,
``qop=auth``, fresh nonces, ``stale=true`` for an expired or replayed one) or
``digest-or-basic``; a route may override it (``auth="none"`` for the
unauthenticated endpoints many vendors have). ``lockout_after=N`` wrong
passwords in a row lock the device for ``lockout_seconds``: every request
then gets ``lockout_response`` (a plain 401 by default), as Hikvision and
Dahua firmware do.

Faults (`FaultInjection` methods, on the device for every response or on a
`Route` for its own; a route's setting wins): `~FaultInjection.trickle`,
`~FaultInjection.endless_headers`, `~FaultInjection.content_length`,
`~FaultInjection.stall_after`, `~FaultInjection.drop_after`,
`~FaultInjection.split_chunks`. Byte counts are bytes of one response on the
wire, status line and headers included (``stall_after(0)`` is a device that
accepts the request and never answers). Faults are read before every write,
so one switched on mid-stream takes effect at once. Every write loop ends
when the client goes away or the device closes.

Observing it: `HttpDevice.requests` (a bounded log, ``Authorization`` left
out), `HttpDevice.connections` (open now), `Route.hits`,
`HttpDevice.failed_logins`, and `HttpDevice.wait_until` (a bounded wait for a
predicate over the device).
"""

from __future__ import annotations

from ._auth import AuthMode, DeviceLogin
from ._faults import FaultInjection, Faults
from ._messages import Handler, Request, RequestRecord, Response, StreamingResponse
from ._server import HttpDevice, Route

__all__ = [
    "AuthMode",
    "DeviceLogin",
    "FaultInjection",
    "Faults",
    "Handler",
    "HttpDevice",
    "Request",
    "RequestRecord",
    "Response",
    "Route",
    "StreamingResponse",
]
