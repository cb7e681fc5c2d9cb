"""Device-supplied URLs are rewritten to the caller's host and never reach another one."""

from __future__ import annotations

import pytest

from camsdk import CameraProtocolError
from camsdk.driver import DeviceUrlPolicy as UrlPolicy

POLICY = UrlPolicy(host="cam.example.invalid", port=8080, shown="onvif://cam.example.invalid:8080")


def test_internal_service_address_gets_the_callers_host_and_port() -> None:
    resolved = POLICY.resolve("http://192.168.1.64/onvif/Media?x=1", "service")
    assert resolved.url == "http://cam.example.invalid:8080/onvif/Media?x=1"
    assert resolved.rewritten


def test_internal_rtsp_address_keeps_its_port_and_query() -> None:
    resolved = POLICY.resolve(
        "rtsp://192.168.1.64:554/Streaming/101?transportmode=unicast", "stream"
    )
    assert resolved.url == "rtsp://cam.example.invalid:554/Streaming/101?transportmode=unicast"


def test_rtsp_port_option_maps_forwarded_rtsp() -> None:
    policy = UrlPolicy(host="cam.example.invalid", port=8080, rtsp_port=10554)
    assert policy.resolve("rtsp://10.0.0.8/live", "stream").url == (
        "rtsp://cam.example.invalid:10554/live"
    )


def test_allowed_hosts_are_followed_unchanged() -> None:
    policy = UrlPolicy(
        host="cam.example.invalid", port=8080, allowed_hosts=frozenset({"media.example.invalid"})
    )
    resolved = policy.resolve("rtsp://media.example.invalid:8554/s", "stream")
    assert resolved.url == "rtsp://media.example.invalid:8554/s"
    assert not resolved.rewritten


def test_same_host_keeps_its_port() -> None:
    resolved = POLICY.resolve("rtsp://cam.example.invalid:9554/s", "stream")
    assert resolved.url == "rtsp://cam.example.invalid:9554/s"
    assert not resolved.rewritten


def test_known_port_forward_applies_on_the_same_host() -> None:
    policy = UrlPolicy(host="cam.example.invalid", port=8080, device_port=80)
    assert policy.resolve("http://cam.example.invalid/onvif/services", "service").url == (
        "http://cam.example.invalid:8080/onvif/services"
    )


def test_embedded_credentials_are_split_off() -> None:
    resolved = POLICY.resolve("rtsp://admin:p%40ss@10.0.0.8:554/live", "stream")
    assert resolved.url == "rtsp://cam.example.invalid:554/live"
    assert (resolved.username, resolved.password) == ("admin", "p@ss")
    assert "p@ss" not in repr(resolved)


def test_https_callers_never_get_a_plain_http_service() -> None:
    policy = UrlPolicy(host="cam.example.invalid", port=8443, https=True)
    assert policy.resolve("http://192.168.1.64/onvif/Media", "service").url == (
        "https://cam.example.invalid:8443/onvif/Media"
    )


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("file:///etc/passwd", "stream"),
        ("data:image/jpeg;base64,/9j/", "snapshot"),
        ("concat:rtsp://a|rtsp://b", "stream"),
        ("rtsp://10.0.0.8/live", "snapshot"),
        ("/onvif/snapshot.jpg", "snapshot"),
        ("ftp://10.0.0.8/x", "service"),
    ],
)
def test_non_network_or_wrong_schemes_are_refused(uri: str, kind: str) -> None:
    with pytest.raises(CameraProtocolError, match="only"):
        POLICY.resolve(uri, kind)  # type: ignore[arg-type]
