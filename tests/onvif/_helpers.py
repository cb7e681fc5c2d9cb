"""Helpers of the ONVIF tests: fixture files and a SOAP replay over respx.

- ``fixture_text(path, **values)``: a device response from ``fixtures/``
  with ``{PLACEHOLDERS}`` filled in.
- `SoapReplay`: answers respx-mocked SOAP POSTs by operation name from
  fixture files or callables, recording every call.
- ``hik_device`` / ``dahua_device`` / ``axis_device``: register a whole
  fixture device on a `SoapReplay`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import httpx
import respx

from camsdk import Credentials
from camsdk.driver import CameraURL
from camsdk.drivers.onvif import OnvifDriver

FIXTURES = Path(__file__).parent / "fixtures"
USER, PASSWORD = "admin", "s3cret-Pw"
DEVICE = "http://cam.example.invalid:8080"


def fixture_text(path: str, **values: str) -> str:
    """A response from ``fixtures/`` with ``{KEY}`` placeholders replaced."""
    text = (FIXTURES / path).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def clock_values(offset: timedelta = timedelta(0)) -> dict[str, str]:
    """Placeholders of ``hik/GetSystemDateAndTime.xml`` for now plus ``offset``."""
    now = datetime.now(UTC) + offset
    return {
        "YEAR": str(now.year),
        "MONTH": str(now.month),
        "DAY": str(now.day),
        "HOUR": str(now.hour),
        "MINUTE": str(now.minute),
        "SECOND": str(now.second),
    }


def stamp(moment: datetime) -> str:
    """xs:dateTime in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def operation_of(request: httpx.Request) -> str:
    """Local name of the first element of the SOAP Body."""
    root = ElementTree.fromstring(request.content)
    body = next(c for c in root if c.tag.endswith("}Body"))
    return next(iter(body)).tag.rsplit("}", 1)[-1]


Reply = str | httpx.Response | Callable[[httpx.Request], httpx.Response]


class SoapReplay:
    """Answers SOAP POSTs per (path, operation); unknown operations fail the test."""

    def __init__(self, router: respx.Router, base: str = DEVICE) -> None:
        self.router = router
        self.base = base
        self.replies: dict[tuple[str, str], Reply] = {}
        #: ``(path, operation, request)`` of every SOAP call, in order.
        self.calls: list[tuple[str, str, httpx.Request]] = []
        self._routed: set[str] = set()

    def on(self, path: str, operation: str, reply: Reply, *, status: int = 200) -> None:
        """Answer ``operation`` at ``path`` with a fixture file name, a response or a callable."""
        if isinstance(reply, str) and reply.endswith(".xml") and status != 200:
            reply = httpx.Response(
                status, text=fixture_text(reply), headers={"Content-Type": "application/soap+xml"}
            )
        self.replies[(path, operation)] = reply
        if path not in self._routed:
            self._routed.add(path)
            self.router.post(self.base + path).mock(side_effect=self._answer(path))

    def _answer(self, path: str) -> Callable[[httpx.Request], httpx.Response]:
        def answer(request: httpx.Request) -> httpx.Response:
            operation = operation_of(request)
            self.calls.append((path, operation, request))
            reply = self.replies.get((path, operation))
            if reply is None:
                raise AssertionError(f"unexpected SOAP call {operation} at {path}")
            if callable(reply):
                return reply(request)
            if isinstance(reply, httpx.Response):
                return reply
            text = fixture_text(reply) if reply.endswith(".xml") else reply
            return httpx.Response(200, text=text, headers={"Content-Type": "application/soap+xml"})

        return answer

    def operations(self) -> list[str]:
        """Operation names called so far."""
        return [operation for _, operation, _ in self.calls]


def hik_device(soap: SoapReplay, *, clock_offset: timedelta = timedelta(0)) -> None:
    """Register the ``hik/`` device: Media1+Media2, events, internal XAddrs (NAT)."""
    soap.on(
        "/onvif/device_service",
        "GetSystemDateAndTime",
        fixture_text("hik/GetSystemDateAndTime.xml", **clock_values(clock_offset)),
    )
    soap.on("/onvif/device_service", "GetServices", "hik/GetServices.xml")
    soap.on("/onvif/device_service", "GetDeviceInformation", "hik/GetDeviceInformation.xml")
    soap.on("/onvif/device_service", "GetScopes", "hik/GetScopes.xml")
    soap.on("/onvif/Media2", "GetProfiles", "hik/GetProfiles_media2.xml")
    soap.on("/onvif/Media2", "GetStreamUri", "hik/GetStreamUri_media2.xml")
    soap.on("/onvif/Media2", "GetSnapshotUri", "hik/GetSnapshotUri_media2.xml")
    soap.on("/onvif/Media", "GetProfiles", "hik/GetProfiles_media1.xml")


def dahua_device(soap: SoapReplay) -> None:
    """Register the ``dahua/`` device: no GetServices, GetCapabilities only, PTZ in degrees."""
    soap.on(
        "/onvif/device_service",
        "GetSystemDateAndTime",
        fixture_text("hik/GetSystemDateAndTime.xml", **clock_values()),
    )
    soap.on("/onvif/device_service", "GetServices", "faults/ActionNotSupported.xml", status=500)
    soap.on("/onvif/device_service", "GetCapabilities", "dahua/GetCapabilities.xml")
    soap.on("/onvif/device_service", "GetDeviceInformation", "dahua/GetDeviceInformation.xml")
    soap.on("/onvif/device_service", "GetScopes", "dahua/GetScopes.xml")
    soap.on("/onvif/media_service", "GetProfiles", "dahua/GetProfiles.xml")
    soap.on("/onvif/media_service", "GetStreamUri", "dahua/GetStreamUri.xml")
    soap.on("/onvif/ptz_service", "GetNodes", "faults/ActionNotSupported.xml", status=500)
    soap.on("/onvif/ptz_service", "GetNode", "dahua/GetNode.xml")
    soap.on("/onvif/ptz_service", "GetStatus", "dahua/GetStatus.xml")
    soap.on("/onvif/ptz_service", "ContinuousMove", "dahua/Empty_ContinuousMove.xml")


def axis_device(soap: SoapReplay, *, lifetime: float = 60.0) -> None:
    """Register the ``axis/`` device: default namespaces, Media2 only, one services path."""
    now = datetime.now(UTC)
    times = {"CURRENT": stamp(now), "TERMINATION": stamp(now + timedelta(seconds=lifetime))}
    soap.on(
        "/onvif/device_service",
        "GetSystemDateAndTime",
        fixture_text("hik/GetSystemDateAndTime.xml", **clock_values()),
    )
    soap.on("/onvif/device_service", "GetServices", "axis/GetServices.xml")
    soap.on("/onvif/device_service", "GetDeviceInformation", "axis/GetDeviceInformation.xml")
    soap.on("/onvif/device_service", "GetScopes", "axis/GetScopes.xml")
    soap.on("/onvif/services", "GetProfiles", "axis/GetProfiles.xml")
    soap.on("/onvif/services", "GetStreamUri", "axis/GetStreamUri.xml")
    soap.on("/onvif/services", "GetSnapshotUri", "axis/GetSnapshotUri.xml")
    soap.on(
        "/onvif/services",
        "CreatePullPointSubscription",
        fixture_text("axis/CreatePullPointSubscription.xml", **times),
    )
    soap.on("/onvif/services", "Unsubscribe", "events/UnsubscribeResponse.xml")


@contextlib.asynccontextmanager
async def onvif_driver(
    url: str, credentials: Credentials | None = None, **options: object
) -> AsyncIterator[OnvifDriver]:
    """A connected `OnvifDriver`, for tests of what the driver hands the facade."""
    driver = OnvifDriver(url=CameraURL.parse(url), credentials=credentials, options=options)
    try:
        await driver.connect()
        yield driver
    finally:
        await driver.close()
