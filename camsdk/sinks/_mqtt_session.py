"""One camera's broker session: connect, subscribe, announce, publish from the queue, receive.

`CameraLink` runs one `BrokerSession` for the bridge's lifetime; it
reconnects with capped, jittered backoff, re-sends what the broker had not
acknowledged, and announces the camera again on every new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import TYPE_CHECKING

import aiomqtt

from .._events import raise_if_cancelling
from .._log import get_logger, scrub
from ._queue import OutgoingMessage

if TYPE_CHECKING:  # pragma: no cover
    from ._mqtt_link import CameraLink, Publish

__all__ = ["BrokerSession"]

_log = get_logger("camsdk.sinks.mqtt")


def _payload_bytes(payload: object) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()


class BrokerSession:
    """The broker side of one `CameraLink`."""

    def __init__(self, link: CameraLink) -> None:
        self.link = link

    async def run(self) -> None:
        """Keep a session up until cancelled, reconnecting with backoff."""
        link = self.link
        attempt = 0
        bridge = link.bridge
        while True:
            established = False
            try:
                client = bridge._new_client(link)
                async with client:
                    try:
                        await self._open_session(client)
                        established = True
                        await self._pump(client)
                    except asyncio.CancelledError:
                        await self._goodbye(client)
                        raise
                reason = "session ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bridge must outlive any broker trouble
                raise_if_cancelling(exc)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                link.connected.clear()
                link.queue.requeue_inflight()
            if established:
                attempt = 0
            link.reconnects += 1
            delay = bridge._backoff(attempt)
            # Warn once per outage; the retries after it are INFO (``-v``).
            log, what = (_log.warning, "lost") if attempt == 0 else (_log.info, "still down")
            attempt += 1
            log(
                "MQTT connection of %s to %s:%s %s (%s); retrying in %.1fs",
                link.slug, bridge.hostname, bridge.port, what, scrub(reason), delay,
            )  # fmt: skip
            await asyncio.sleep(delay)

    async def _open_session(self, client: aiomqtt.Client) -> None:
        link = self.link
        topics = [(topic, 1) for topic in link.commands]
        if link.t_ha_status is not None:
            topics.append((link.t_ha_status, 1))
        await client.subscribe(topics)
        # Current availability first, then discovery: HA may only create the
        # entities now (a broker without persistence lost the retained configs).
        await client.publish(
            link.t_availability,
            b"online" if link.camera_online else b"offline",
            qos=1,
            retain=True,
        )
        for topic, payload in link.discovery_messages():
            await client.publish(topic, payload, qos=1, retain=True)
        link.connected.set()
        _log.info(
            "MQTT session of %s up at %s:%s; subscribed to %s",
            link.slug, link.bridge.hostname, link.bridge.port,
            ", ".join(topic for topic, _ in topics),
        )  # fmt: skip

    async def _pump(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        failure: asyncio.Future[None] = loop.create_future()
        tasks = (
            loop.create_task(self._sender(client, failure)),
            loop.create_task(self._receiver(client)),
            loop.create_task(self._watchdog()),
        )
        try:
            done, _ = await asyncio.wait({*tasks, failure}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not failure.done():
                failure.cancel()
        for fut in done:
            exc = fut.exception()
            if exc is not None:
                raise exc
        raise aiomqtt.MqttError("session ended")

    async def _sender(self, client: aiomqtt.Client, failure: asyncio.Future[None]) -> None:
        link = self.link
        slots = asyncio.Semaphore(link.bridge.inflight)
        tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        try:
            while True:
                # Take a window slot before a message, so nothing sits "in
                # flight" in our accounting without being handed to the client.
                await slots.acquire()
                msg = await link.queue.get()
                task = loop.create_task(self._publish_one(client, msg, slots, failure))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _watchdog(self) -> None:
        link = self.link
        # One periodic check instead of a timer per publish: a broker that
        # stops acknowledging (but keeps the socket open) ends the session.
        limit = link.bridge.publish_timeout
        while True:
            await asyncio.sleep(max(0.05, limit / 4))
            age = link.queue.oldest_inflight_age()
            if age is not None and age > limit:
                raise aiomqtt.MqttError(f"no acknowledgement from the broker within {limit:g} s")

    async def _publish_one(
        self,
        client: aiomqtt.Client,
        msg: OutgoingMessage[Publish],
        slots: asyncio.Semaphore,
        failure: asyncio.Future[None],
    ) -> None:
        link = self.link
        item = msg.item
        try:
            await client.publish(
                item.topic,
                item.payload,
                qos=item.qos,
                retain=item.retain,
                # No per-message timer (it costs a quarter of the CPU per
                # message); `_watchdog` bounds how long an ack may take.
                timeout=math.inf,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure ends this session
            if not failure.done():
                failure.set_exception(exc)
            return
        finally:
            slots.release()
        link.queue.ack(msg)

    async def _receiver(self, client: aiomqtt.Client) -> None:
        link = self.link
        async for message in client.messages:
            topic = message.topic.value
            payload = _payload_bytes(message.payload)
            if topic in link.commands:
                link.on_command(topic, payload, bool(message.retain))
            elif topic == link.t_ha_status and payload == b"online":
                # Home Assistant restarted: announce again, with current states.
                _log.info("Home Assistant came online: announcing %s again", link.slug)
                for config_topic_, config in link.discovery_messages():
                    link.put(config_topic_, config, qos=1, retain=True)
                link.republish_states()

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        link = self.link
        # A clean stop says "offline" itself; the will only covers crashes.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                client.publish(link.t_availability, b"offline", qos=1, retain=True),
                timeout=2.0,
            )
