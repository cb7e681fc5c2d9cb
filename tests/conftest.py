"""Shared test configuration: leak checks for every test, anyio on asyncio."""

pytest_plugins = ["camsdk.testing.pytest_plugin"]
