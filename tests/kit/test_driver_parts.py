"""The kit's parts for what every driver repeated: `SessionSlot`, hub camera URLs,
`device_snapshot`, `lazy_exports`."""

from __future__ import annotations

import struct
from typing import Any, ClassVar

import pytest

from camsdk.driver import (
    CameraClosedError,
    CameraConfig,
    CameraDriver,
    CameraProtocolError,
    CameraURL,
    ConfigurationError,
    DriverOptions,
    HubCamera,
    HubDriver,
    SessionSlot,
    device_snapshot,
    hub_camera_url,
    lazy_exports,
    own_camera_url,
)

SHOWN = "acme://cam.local/1"


def _jpeg(width: int, height: int) -> bytes:
    """The smallest bytes `require_jpeg` takes for a picture: SOI, a frame header, EOI."""
    frame = struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xc0" + frame + b"\xff\xd9"


class AcmeHubOptions(DriverOptions):
    """Options a hub hands on to its cameras."""

    fps: int = 10
    cameras: int = 2


class AcmeHub(HubDriver[AcmeHubOptions]):
    """A hub that lists nothing; only its URL and options matter here."""

    schemes: ClassVar[tuple[str, ...]] = ("acme",)

    async def connect(self) -> None:
        """Nothing to connect."""

    async def cameras(self) -> list[HubCamera]:
        """No cameras."""
        return []

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """Never called."""
        raise NotImplementedError


def _hub(url: str, **options: Any) -> AcmeHub:
    return AcmeHub(url=CameraURL.parse(url), options=options)


# -- SessionSlot -------------------------------------------------------------------------------


def test_a_slot_hands_back_the_session_it_was_filled_with() -> None:
    slot: SessionSlot[str] = SessionSlot("camera", scheme="acme", url=SHOWN)
    slot.fill("session")
    assert slot.get() == "session"


def test_reading_a_slot_before_connect_says_the_owner_is_not_connected() -> None:
    slot: SessionSlot[str] = SessionSlot("hub", scheme="acme", url=SHOWN)
    with pytest.raises(CameraClosedError, match="hub is not connected") as caught:
        slot.get()
    assert (caught.value.scheme, caught.value.url) == ("acme", SHOWN)


def test_a_closed_slot_refuses_reads_and_connects() -> None:
    slot: SessionSlot[str] = SessionSlot("camera", scheme="acme", url=SHOWN)
    slot.fill("session")
    slot.close()
    with pytest.raises(CameraClosedError, match="camera is closed"):
        slot.get()
    with pytest.raises(CameraClosedError, match="camera is closed"):
        slot.check_open()


def test_closing_twice_hands_the_session_back_once() -> None:
    slot: SessionSlot[str] = SessionSlot("camera", scheme="acme", url=SHOWN)
    slot.fill("session")
    assert (slot.close(), slot.close()) == ("session", None)
    assert slot.closed


def test_taking_the_session_after_a_failed_connect_leaves_the_slot_open() -> None:
    slot: SessionSlot[str] = SessionSlot("camera", scheme="acme", url=SHOWN)
    slot.fill("session")
    assert slot.take() == "session"
    slot.check_open()
    assert slot.peek() is None


# -- hub camera URLs ---------------------------------------------------------------------------


def test_a_hub_camera_url_keeps_host_port_and_given_options_but_no_credentials() -> None:
    hub = _hub("acme://admin:hunter2@nvr.local:8080?fps=5")
    url = CameraURL.parse(hub_camera_url(hub, "/3", ("source", "v1")))
    assert (url.scheme, url.host, url.port, url.path) == ("acme", "nvr.local", 8080, "/3")
    assert url.query == (("fps", "5"), ("source", "v1"))
    assert url.username is None and url.password is None


def test_a_hub_camera_url_leaves_out_hub_only_options_and_may_rename_the_host() -> None:
    hub = _hub("acme://site?cameras=4&fps=5")
    url = CameraURL.parse(hub_camera_url(hub, "", host="site-2", exclude={"cameras"}))
    assert (url.host, url.query) == ("site-2", (("fps", "5"),))


def test_a_camera_of_the_hub_is_its_own() -> None:
    hub = _hub("acme://nvr.local:8080")
    camera = HubCamera(id="1", name="one", url=hub_camera_url(hub, "/1"))
    assert own_camera_url(hub, camera).path == "/1"


@pytest.mark.parametrize("url", ["acme://other.local:8080/1", "acme://nvr.local:9/1",
                                 "other://nvr.local:8080/1"])
def test_a_camera_of_another_device_is_refused(url: str) -> None:
    hub = _hub("acme://nvr.local:8080")
    with pytest.raises(ConfigurationError, match="does not belong to this hub"):
        own_camera_url(hub, HubCamera(id="x", name="x", url=url))


def test_the_port_check_can_be_left_out_and_a_vendor_check_added() -> None:
    hub = _hub("acme://account")
    camera = HubCamera(id="x", name="x", url="acme://account:1/7")
    assert own_camera_url(hub, camera, same_port=False).path == "/7"
    with pytest.raises(ConfigurationError, match="does not belong to this account"):
        own_camera_url(hub, camera, same_port=False, belongs=lambda url: url.path == "/1",
                       owner="this account")


# -- device_snapshot ---------------------------------------------------------------------------


def test_a_device_jpeg_becomes_a_device_snapshot_with_its_size() -> None:
    snap = device_snapshot(_jpeg(64, 48), content_type="image/jpeg", camera_id="acme:1",
                           scheme="acme", url=SHOWN)
    assert (snap.width, snap.height, snap.source, snap.camera_id) == (64, 48, "device", "acme:1")


def test_an_error_page_is_a_protocol_error_not_a_snapshot() -> None:
    with pytest.raises(CameraProtocolError, match="not a JPEG"):
        device_snapshot(b"<html>busy</html>", content_type="image/jpeg", camera_id="acme:1",
                        scheme="acme", url=SHOWN)


# -- lazy_exports ------------------------------------------------------------------------------


def test_lazy_exports_imports_a_name_from_its_submodule_on_first_use() -> None:
    getattr_ = lazy_exports("camsdk.drivers.virtual", {"VirtualDriver": "._driver"})
    from camsdk.drivers.virtual._driver import VirtualDriver

    assert getattr_("VirtualDriver") is VirtualDriver


def test_lazy_exports_knows_no_other_name() -> None:
    getattr_ = lazy_exports("camsdk.drivers.virtual", {"VirtualDriver": "._driver"})
    with pytest.raises(AttributeError, match="Nothing"):
        getattr_("Nothing")


def test_a_driver_is_shown_and_printed_without_its_user_name_or_password() -> None:
    hub = _hub("acme://admin:s3cret-pw@cam.local:8080/1?fps=5")
    assert hub.shown == "acme://cam.local:8080/1"
    assert repr(hub) == "AcmeHub('acme://cam.local:8080/1')"
    assert "admin" not in repr(hub) and "s3cret-pw" not in repr(hub)
