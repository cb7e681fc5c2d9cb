"""Helpers of the Hikvision tests: credentials, fast configs, fixture files."""

from __future__ import annotations

from pathlib import Path

from camsdk import Credentials

FIXTURES = Path(__file__).parent / "fixtures"
USER, PASSWORD = "admin", "Hik-s3cret-Pw"
CREDS = Credentials(USER, PASSWORD)
#: Fast reconnects, short deadlines: a loopback device answers at once.
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "connect_timeout": 5.0}


def fixture_bytes(path: str, **values: str) -> bytes:
    """A recorded (redacted) answer from ``fixtures/`` with ``{KEY}`` placeholders filled."""
    text = (FIXTURES / path).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.encode()
