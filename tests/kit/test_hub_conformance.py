"""The conformance suite's hub part on the built-in virtual hub: cameras from `hub.cameras()`."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk.testing.conformance import HubConformance


class TestVirtualHubConformance(HubConformance):
    @pytest.fixture
    def hub_url(self) -> str:
        return "virtual://kit-site?cameras=2"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return {"fail": "auth"}
