"""Shared test configuration: leak checks for every test, anyio on asyncio, a respx router."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

pytest_plugins = ["camsdk.testing.pytest_plugin"]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """A respx mock of every httpx request in the test (none may go unmocked)."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock
