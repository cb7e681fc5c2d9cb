"""Fixtures for the event, MQTT and webhook tests.

MQTT tests talk to a real mosquitto on 127.0.0.1, started here on a free
port with ``scripts/mosquitto-test.conf`` (one broker per session, plus a
private one for tests that restart it). They are skipped, with the reason,
only when the mosquitto binary is not installed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mosquitto_test", ROOT / "scripts" / "mosquitto_test.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


launcher = _load_launcher()
MOSQUITTO_MISSING = launcher.find_mosquitto() is None
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO_MISSING, reason="mosquitto is not installed (apt-get install mosquitto)"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[launcher.Mosquitto]:  # type: ignore[name-defined]
    """A broker shared by the session (do not restart it; use ``private_mosquitto``)."""
    if MOSQUITTO_MISSING:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = launcher.Mosquitto()
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def private_mosquitto() -> Iterator[launcher.Mosquitto]:  # type: ignore[name-defined]
    """A broker of this test alone, which it may stop, restart or kill."""
    if MOSQUITTO_MISSING:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = launcher.Mosquitto()
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> str:
    """A topic prefix unique to the test, so retained messages never cross tests."""
    name = request.node.name.lower()
    return "t_" + "".join(c if c.isalnum() else "_" for c in name)[:60]
