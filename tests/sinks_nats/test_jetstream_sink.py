"""The JetStream sink, against a real nats-server -js on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

NO_NATS_PY = "the JetStream sink needs nats-py: pip install camsdk[nats]"
pytest.importorskip("nats", reason=NO_NATS_PY)

from camsdk._errors import AuthenticationError, ConfigurationError  # noqa: E402
from camsdk._models import CameraEvent, Credentials, EventKind, Snapshot  # noqa: E402
from camsdk.sinks.nats import JetStreamSink, subject_token  # noqa: E402

from .nats_server import NatsServer  # noqa: E402

pytestmark = pytest.mark.anyio

WAIT = 30.0  # bound on every wait for the sink or the server


def event(i: int = 0, *, camera: str = "front.door", active: bool = True, **kw: Any) -> CameraEvent:
    return CameraEvent(
        kind=kw.pop("kind", EventKind.PERSON), camera_id=camera, event_id=f"e{i}",
        active=active, score=0.9, **kw,
    )  # fmt: skip


def sink(server: NatsServer, **options: Any) -> JetStreamSink:
    settings: dict[str, Any] = {"ensure_stream": True, "backoff_base": 0.02, "backoff_cap": 0.2,
                                "timeout": 2.0, "connect_timeout": 2.0}  # fmt: skip
    settings.update(options)
    return JetStreamSink(server.url, **settings)


async def stored(server: NatsServer, stream: str = "CAMSDK", **connect: Any) -> list[Any]:
    """Every message of ``stream``, in stream order, read with a fresh plain client."""
    import nats

    nc = await nats.connect(server.url, allow_reconnect=False, **connect)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]
    finally:
        await nc.close()


async def test_events_arrive_in_order_on_their_subjects_as_event_json(
    nats_server: NatsServer,
) -> None:
    kinds = [EventKind.PERSON, EventKind.MOTION, EventKind.DOORBELL]
    async with sink(nats_server) as js:
        for i, kind in enumerate(kinds):
            js.send(event(i, kind=kind))
        await asyncio.wait_for(js.flush(), WAIT)
        assert js.stats.published == 3 and js.stats.queued == 0
    msgs = await stored(nats_server)
    assert [m.subject for m in msgs] == [
        "camsdk.front_door.person", "camsdk.front_door.motion", "camsdk.front_door.doorbell"]
    bodies = [json.loads(m.data) for m in msgs]
    assert [b["event_id"] for b in bodies] == ["e0", "e1", "e2"]
    assert bodies[0]["camera_id"] == "front.door" and bodies[0]["kind"] == "person"
    assert msgs[0].headers["Nats-Msg-Id"] == "front.door:e0:start"
    assert msgs[0].headers["Camsdk-Format"] == "camsdk"


async def test_camera_ids_become_one_subject_token() -> None:
    assert subject_token("front.door") == "front_door"
    assert subject_token("a b*>c") == "a_b__c"
    assert subject_token("") == "_"


async def test_a_retried_publish_is_stored_once_by_its_msg_id(nats_server: NatsServer) -> None:
    once = event(7)
    async with sink(nats_server) as js:
        assert await js.deliver(once)
        assert await js.deliver(once)  # as after a lost ack: same event, same Msg-Id
        assert js.stats.duplicates == 1
    msgs = await stored(nats_server)
    assert len(msgs) == 1


async def test_start_updates_and_end_of_one_activity_are_separate_messages(
    nats_server: NatsServer,
) -> None:
    start = event(1)
    update = event(1, received_at=datetime(2030, 1, 1, tzinfo=UTC))
    end = event(1, active=False)
    async with sink(nats_server) as js:
        for e in (start, update, end):
            js.send(e)
        await asyncio.wait_for(js.flush(), WAIT)
    ids = [m.headers["Nats-Msg-Id"] for m in await stored(nats_server)]
    assert ids[0] == "front.door:e1:start" and ids[2] == "front.door:e1:end"
    assert ids[1].startswith("front.door:e1:update:")


async def test_frigate_format_sends_frigate_events(nats_server: NatsServer) -> None:
    async with sink(nats_server, format="frigate") as js:
        js.send(event(1))
        js.send(event(1, active=False))
        await asyncio.wait_for(js.flush(), WAIT)
    bodies = [json.loads(m.data) for m in await stored(nats_server)]
    assert [b["type"] for b in bodies] == ["new", "end"]
    assert bodies[1]["after"]["label"] == "person"


async def test_a_server_restart_loses_no_queued_event_and_never_blocks_the_camera(
    nats_server: NatsServer,
) -> None:
    async def camera(first: int, count: int) -> AsyncIterator[CameraEvent]:
        for i in range(first, first + count):
            yield event(i)

    async with sink(nats_server, queue_size=64) as js:
        await asyncio.wait_for(js.run(camera(0, 5)), WAIT)
        await asyncio.wait_for(js.flush(), WAIT)
        await asyncio.to_thread(nats_server.stop)
        # The camera's events go on while the server is down: run() ends, nothing waits.
        await asyncio.wait_for(js.run(camera(5, 20)), WAIT)
        assert js.stats.queued == 20
        await asyncio.to_thread(nats_server.start)
        await asyncio.wait_for(js.flush(), WAIT)
        assert js.stats.dropped == 0 and js.stats.reconnects >= 1
    msgs = await stored(nats_server)
    assert [json.loads(m.data)["event_id"] for m in msgs] == [f"e{i}" for i in range(25)]


async def test_a_server_down_at_start_gets_the_events_once_it_is_up(
    nats_server: NatsServer,
) -> None:
    async with sink(nats_server):
        pass  # the stream exists from now on
    await asyncio.to_thread(nats_server.stop)
    async with sink(nats_server) as js:
        js.send(event(1))
        assert not js.stats.connected
        await asyncio.to_thread(nats_server.start)
        await asyncio.wait_for(js.flush(), WAIT)
    assert [json.loads(m.data)["event_id"] for m in await stored(nats_server)] == ["e1"]


async def test_a_full_queue_drops_the_oldest_events_and_counts_them(
    nats_server: NatsServer,
) -> None:
    async with sink(nats_server, queue_size=8) as js:
        await asyncio.to_thread(nats_server.stop)
        for i in range(13):
            js.send(event(i))
        assert js.stats.dropped == 5 and js.stats.queued == 8
        await asyncio.to_thread(nats_server.start)
        await asyncio.wait_for(js.flush(), WAIT)
    ids = [json.loads(m.data)["event_id"] for m in await stored(nats_server)]
    assert ids == [f"e{i}" for i in range(5, 13)]


async def test_wrong_credentials_are_an_authentication_error_without_the_secret(
    make_nats_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_nats_server(user="bridge", password="right-pass-1234")
    wrong = "wrong-pass-98765"
    js = sink(server, credentials=Credentials("bridge", wrong))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as info:
        async with js:
            pass
    assert wrong not in str(info.value) and wrong not in repr(js)
    assert wrong not in caplog.text


async def test_right_credentials_publish(make_nats_server: Any) -> None:
    server = make_nats_server(user="bridge", password="right-pass-1234")
    async with sink(server, credentials=Credentials("bridge", "right-pass-1234")) as js:
        assert await js.deliver(event(1))


async def test_a_token_is_accepted_and_never_shown(make_nats_server: Any) -> None:
    token = "tok-0123456789abcdef"
    server = make_nats_server(token=token)
    async with sink(server, credentials=SecretStr(token)) as js:
        assert await js.deliver(event(1))
        assert token not in repr(js)


async def test_a_plain_string_credential_is_refused_as_ambiguous(nats_server: NatsServer) -> None:
    with pytest.raises(ConfigurationError, match="ambiguous"):
        JetStreamSink(nats_server.url, credentials="secret")  # type: ignore[arg-type]


async def test_a_password_in_the_server_url_is_redacted(nats_server: NatsServer) -> None:
    js = JetStreamSink(f"nats://user:url-secret-42@127.0.0.1:{nats_server.port}")
    assert "url-secret-42" not in repr(js) and "***" in js.redacted_servers


async def test_no_stream_for_the_subjects_is_a_configuration_error(
    nats_server: NatsServer,
) -> None:
    with pytest.raises(ConfigurationError, match=r"no JetStream stream captures 'camsdk\.>'"):
        async with sink(nats_server, ensure_stream=False):
            pass


async def test_a_named_stream_that_does_not_exist_is_a_configuration_error(
    nats_server: NatsServer,
) -> None:
    with pytest.raises(ConfigurationError, match="EVENTS"):
        async with sink(nats_server, ensure_stream=False, stream="EVENTS"):
            pass


async def test_ensure_stream_creates_a_file_stream_for_the_prefix(nats_server: NatsServer) -> None:
    import nats

    async with sink(nats_server, subject_prefix="site_a", stream="SITE_A",
                    stream_max_age=3600.0, duplicate_window=30.0) as js:  # fmt: skip
        assert await js.deliver(event(1))
    nc = await nats.connect(nats_server.url, allow_reconnect=False)
    try:
        config = (await nc.jetstream().stream_info("SITE_A")).config
    finally:
        await nc.close()
    assert config.subjects == ["site_a.>"]
    assert str(getattr(config.storage, "value", config.storage)) == "file"
    assert config.max_age == pytest.approx(3600.0)
    assert config.duplicate_window == pytest.approx(30.0)


def snapshot(size: int) -> Snapshot:
    return Snapshot(jpeg=b"\xff\xd8" + b"x" * size, width=64, height=48,
                    captured_at=datetime.now(UTC), source="stream")  # fmt: skip


async def test_snapshots_ride_along_only_when_asked(nats_server: NatsServer) -> None:
    async with sink(nats_server) as js:
        assert await js.deliver(event(1, snapshot=snapshot(100)))
    async with sink(nats_server, with_snapshot=True) as js:
        assert await js.deliver(event(2, snapshot=snapshot(100)))
    bodies = [json.loads(m.data) for m in await stored(nats_server)]
    assert "snapshot" not in bodies[0]
    assert bodies[1]["snapshot"]["content_type"] == "image/jpeg"


async def test_a_snapshot_over_max_payload_is_left_out_counted_and_logged_once(
    make_nats_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_nats_server(max_payload=16384)
    async with sink(server, with_snapshot=True) as js:
        for i in range(2):
            assert await js.deliver(event(i, snapshot=snapshot(30_000)))
        assert js.stats.snapshots_omitted == 2
    bodies = [json.loads(m.data) for m in await stored(server)]
    assert [b["event_id"] for b in bodies] == ["e0", "e1"]
    assert all("snapshot" not in b for b in bodies)
    assert caplog.text.count("exceeded max_payload") == 1


async def test_without_nats_py_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "nats", None)  # import nats -> ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'camsdk\[nats\]'"):
        JetStreamSink("nats://127.0.0.1:4222")
