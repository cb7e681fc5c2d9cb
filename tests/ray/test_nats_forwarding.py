"""A fleet with a ``[nats]`` table: a camera actor forwards its camera's events to JetStream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from camsdk.ray import Fleet, FleetConfig

from ..sinks_nats.nats_server import NatsServer, find_nats_server
from .conftest import CAMERA_LABELS, START_TIMEOUT, LocalCluster

pytestmark = pytest.mark.anyio
nats = pytest.importorskip(
    "nats", reason="the JetStream sink needs nats-py: pip install camsdk[nats]"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def nats_server() -> Any:
    if find_nats_server() is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    server = NatsServer()
    server.start()
    yield server
    server.close()


async def test_a_camera_actor_forwards_its_events_to_jetstream(
    ray_cluster: LocalCluster, nats_server: NatsServer, tmp_path: Path
) -> None:
    config = FleetConfig.model_validate({
        "fleet": {"name": "natsfleet", "node_labels": CAMERA_LABELS, "poll_interval": 0.2},
        "cameras": [{"name": "yard", "url": "virtual://nats-yard?size=160x120&fps=5&events=motion:500ms"}],
        "nats": {"servers": [nats_server.url], "subject_prefix": "fleet", "ensure_stream": True},
    })  # fmt: skip
    nc = await nats.connect(nats_server.url, allow_reconnect=False)
    fleet = Fleet(config)
    try:
        sub = await nc.subscribe("fleet.>")
        await fleet.up(timeout=START_TIMEOUT)
        msg = await sub.next_msg(timeout=60.0)
        stored = await nc.jetstream().stream_info("FLEET")
    finally:
        await fleet.down()
        await nc.close()
    assert msg.subject.endswith(".motion")
    assert json.loads(msg.data)["kind"] == "motion"
    assert stored.state.messages >= 1
