"""The UniFi driver, and the cameras its hub hands out, pass the driver conformance suite."""

from __future__ import annotations

from typing import Any

import pytest

import camsdk
from camsdk.testing import UnifiConsole, closed_port
from camsdk.testing.conformance import CameraConformance, Hook, HubConformance

from .conftest import PASSWORD, USER


class TestUnifiConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self, console: UnifiConsole) -> str:
        return console.camera_url(0)

    @pytest.fixture
    def camera_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return options

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"unifi://127.0.0.1:{closed_port()}/front-door"

    @pytest.fixture
    def bad_credentials(self, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "credentials": camsdk.Credentials(USER, "wrong-" + PASSWORD)}

    @pytest.fixture
    def break_stream(self, console: UnifiConsole) -> Hook:
        return console.break_streams

    @pytest.fixture
    def trigger_event(self, console: UnifiConsole) -> Hook:
        async def motion() -> None:
            await console.wait_until(lambda c: c.websockets >= 1)
            console.start_event(0, "motion")

        return motion


class TestUnifiHubConformance(HubConformance, TestUnifiConformance):
    """The same suite on a camera `hub.cameras()` hands out, while the hub holds the session."""

    @pytest.fixture
    def hub_url(self, console: UnifiConsole) -> str:
        return console.url

    @pytest.fixture
    def hub_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return options


class TestUnifiIntegrationConformance(TestUnifiConformance):
    """The same suite over the Integration API (API key, its own events websocket)."""

    @pytest.fixture
    def camera_options(self, options: dict[str, Any]) -> dict[str, Any]:
        from .conftest import API_KEY

        return {**{k: v for k, v in options.items() if k != "credentials"}, "api_key": API_KEY}

    @pytest.fixture
    def bad_credentials(self, camera_options: dict[str, Any]) -> dict[str, Any]:
        return {**camera_options, "api_key": "not-the-key"}
