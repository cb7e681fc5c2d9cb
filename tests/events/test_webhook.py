"""The webhook sink, against respx-mocked endpoints."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import anyio
import httpx
import pytest
import respx
from pydantic import SecretStr

from camsdk._errors import ConfigurationError
from camsdk._models import CameraEvent, EventKind
from camsdk.sinks.webhook import WebhookSink

pytestmark = pytest.mark.anyio

URL = "https://hooks.example.test/camsdk"
SECRET = "whsec-0123456789"


def event(i: int = 0) -> CameraEvent:
    return CameraEvent(kind=EventKind.PERSON, camera_id="cam", event_id=f"e{i}", score=0.9)


def sink(**options: object) -> WebhookSink:
    settings: dict[str, object] = {
        "secret": SecretStr(SECRET), "timeout": 2.0, "retries": 3, "backoff_base": 0.001,
        "backoff_cap": 0.002,
    }  # fmt: skip
    settings.update(options)
    return WebhookSink(URL, **settings)  # type: ignore[arg-type]


@respx.mock
async def test_body_is_event_json_signed_with_hmac_sha256() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    async with sink() as hook:
        assert await hook.deliver(event(7))
    request = route.calls.last.request
    body = request.content
    assert json.loads(body)["event_id"] == "e7"
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert request.headers["X-Camsdk-Signature"] == expected
    assert WebhookSink.verify(SECRET, body, request.headers["X-Camsdk-Signature"])
    assert not WebhookSink.verify("wrong", body, request.headers["X-Camsdk-Signature"])
    assert request.headers["X-Camsdk-Event-Id"] == "e7"
    assert request.headers["Content-Type"] == "application/json"


@respx.mock
async def test_server_errors_are_retried_until_accepted() -> None:
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(500), httpx.Response(200)]
    )
    async with sink() as hook:
        assert await hook.deliver(event())
    assert route.call_count == 3


@respx.mock
async def test_network_errors_are_retried() -> None:
    route = respx.post(URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200)]
    )
    async with sink() as hook:
        assert await hook.deliver(event())
    assert route.call_count == 3


@respx.mock
async def test_client_errors_are_final() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(400))
    async with sink() as hook:
        assert not await hook.deliver(event())
    assert route.call_count == 1


@respx.mock
async def test_redirects_are_not_followed() -> None:
    respx.post(URL).mock(
        return_value=httpx.Response(307, headers={"Location": "https://elsewhere.test/"})
    )
    other = respx.post("https://elsewhere.test/").mock(return_value=httpx.Response(200))
    async with sink() as hook:
        assert not await hook.deliver(event())
    assert other.call_count == 0


@respx.mock
async def test_retries_are_bounded() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(502))
    async with sink(retries=2) as hook:
        assert not await hook.deliver(event())
    assert route.call_count == 3


@respx.mock
async def test_queued_events_are_delivered_in_order_and_counted() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200))
    async with sink() as hook:
        for i in range(5):
            hook.send(event(i))
        with anyio.fail_after(5):
            await hook.flush()
        assert hook.delivered == 5 and hook.failed == 0
    assert [json.loads(c.request.content)["event_id"] for c in route.calls] == [
        f"e{i}" for i in range(5)
    ]


async def test_queue_is_bounded_and_drops_oldest() -> None:
    hook = sink(queue_size=3)  # not started: nothing drains the queue
    for i in range(10):
        hook.send(event(i))
    assert hook.dropped == 7 and len(hook.queue) == 3


@respx.mock
async def test_secret_never_reaches_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="camsdk")
    respx.post(URL).mock(side_effect=httpx.ConnectError(f"failed with {SECRET}"))
    async with sink(retries=1) as hook:
        assert not await hook.deliver(event())
    assert "giving up" in caplog.text
    assert SECRET not in caplog.text and SECRET not in repr(hook)


def test_only_http_urls_and_a_secret_are_accepted() -> None:
    with pytest.raises(ConfigurationError):
        WebhookSink("ftp://example.test/x", secret=SECRET)
    with pytest.raises(ConfigurationError):
        WebhookSink(URL, secret="")
