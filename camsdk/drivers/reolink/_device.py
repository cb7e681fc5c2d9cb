"""`DeviceState`: a Reolink device's identity, ports and channels, read in two batches.

The first batch is device-wide (``GetDevInfo``, ``GetLocalLink``,
``GetNetPort``, ``GetChannelstatus``, ``GetAbility``); the second reads the
stream configuration of the channels wanted (``GetEnc``, and ``GetRtspUrl``
where newer firmware has it). A hub reads every channel in one POST, so
listing a 32-channel NVR costs one login and two requests, and the cameras
it hands out reuse all of it.

Cameras that only speak a subset of the API (no ``GetChannelstatus`` on a
plain IP camera, no ``GetRtspUrl`` before firmware v3) simply lack that
part; only ``GetDevInfo`` is required.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from camsdk.driver import json_object, json_text

from ._api import ReolinkSession
from ._model import (
    Ability,
    ChannelStatus,
    DeviceInfo,
    EncodedStream,
    NetPorts,
    read_ability,
    read_channel_status,
    read_device_info,
    read_enc,
    read_net_ports,
    read_rtsp_urls,
)

__all__ = [
    "ChannelMedia", "DeviceState", "device_state", "load_channels", "load_device",
    "refresh_status",
]


@dataclass(slots=True)
class ChannelMedia:
    """The stream configuration of one channel, or why it cannot stream."""

    streams: list[EncodedStream] = field(default_factory=list)
    audio: bool = False
    rtsp_urls: dict[str, str] = field(default_factory=dict)
    #: Why the device refuses this channel's streams ("" when it does not).
    refused: str = ""


@dataclass(slots=True)
class DeviceState:
    """What the device said about itself (see the module docstring)."""

    info: DeviceInfo
    mac: str = ""
    ports: NetPorts = field(default_factory=NetPorts)
    #: ``GetChannelstatus`` by channel; empty on devices without it (plain cameras).
    status: dict[int, ChannelStatus] = field(default_factory=dict)
    status_read_at: float = 0.0
    ability_answer: object = None
    media: dict[int, ChannelMedia] = field(default_factory=dict)

    def channels(self) -> list[int]:
        """The channels the device has (from its status, else ``channelNum``)."""
        if self.status:
            return sorted(self.status)
        return list(range(self.info.channels))

    def ability(self, channel: int) -> Ability | None:
        """``GetAbility`` of one channel (``None``: the device did not say)."""
        return read_ability(self.ability_answer, channel)


async def load_device(session: ReolinkSession, username: str) -> DeviceState:
    """The device-wide batch; ``GetDevInfo`` must succeed, the rest may be missing."""
    answers = await session.batch(
        [
            {"cmd": "GetDevInfo", "action": 0, "param": {}},
            {"cmd": "GetLocalLink", "action": 0, "param": {}},
            {"cmd": "GetNetPort", "action": 0, "param": {}},
            {"cmd": "GetChannelstatus", "action": 0, "param": {}},
            {"cmd": "GetAbility", "action": 0, "param": {"User": {"userName": username}}},
        ],
        action="GetDevInfo",
    )
    dev, link, ports, status, ability = answers
    state = DeviceState(info=read_device_info(session.value_of(dev)))
    if link.ok:
        state.mac = json_text(json_object(json_object(link.value).get("LocalLink")).get("mac"))[:32]
    if ports.ok:
        state.ports = read_net_ports(ports.value)
    if status.ok:
        state.status = {s.channel: s for s in read_channel_status(status.value)}
        state.status_read_at = time.monotonic()
    if ability.ok:
        state.ability_answer = ability.value
    return state


async def refresh_status(session: ReolinkSession, state: DeviceState, *,
                         max_age: float = 0.0) -> None:
    """Read ``GetChannelstatus`` again when the copy is older than ``max_age`` seconds.

    It does not wake battery cameras, so it is how their sleep is learnt.
    """
    if time.monotonic() - state.status_read_at <= max_age:
        return
    (answer,) = await session.batch([{"cmd": "GetChannelstatus", "action": 0, "param": {}}])
    if answer.ok:
        state.status = {s.channel: s for s in read_channel_status(answer.value)}
        state.status_read_at = time.monotonic()


async def load_channels(session: ReolinkSession, state: DeviceState,
                        channels: Iterable[int]) -> None:
    """``GetEnc`` and ``GetRtspUrl`` of ``channels`` not read yet, in one batch."""
    wanted = [c for c in channels if c not in state.media]
    if not wanted:
        return
    commands = []
    for channel in wanted:
        commands.append({"cmd": "GetEnc", "action": 0, "param": {"channel": channel}})
        commands.append({"cmd": "GetRtspUrl", "action": 0, "param": {"channel": channel}})
    answers = await session.batch(commands, action="GetEnc")
    for index, channel in enumerate(wanted):
        enc, urls = answers[2 * index], answers[2 * index + 1]
        media = ChannelMedia()
        if enc.ok:
            media.streams, media.audio = read_enc(enc.value)
            if not media.streams:
                media.refused = "the device reports no stream for this channel"
        else:
            media.refused = (
                f"the device refuses this channel's streams (rspCode {enc.rsp_code}: "
                f"{enc.detail[:48] or 'no detail'})"
            )
        if urls.ok:
            media.rtsp_urls = read_rtsp_urls(urls.value)
        state.media[channel] = media


async def device_state(session: ReolinkSession, username: str) -> DeviceState:
    """The session's `DeviceState`, read once and kept on the session."""
    if session.device is None:
        session.device = await load_device(session, username)
    return session.device
