"""ONVIF over camsdk's RTSP client: in-band metadata events and two-way audio on the backchannel."""

from __future__ import annotations

import anyio
import pytest

import camsdk
from camsdk import Capability, Credentials, EventKind
from camsdk.testing import wait_until
from camsdk.testing._onvif_device import OnvifDevice

from ._helpers import PASSWORD, USER

pytestmark = pytest.mark.anyio

METADATA = b"""<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"
  xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"
  xmlns:tns1="http://www.onvif.org/ver10/topics">
 <tt:Event><wsnt:NotificationMessage>
  <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">
   tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
  <wsnt:Message><tt:Message UtcTime="2026-12-04T08:00:00Z" PropertyOperation="Changed">
   <tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceConfig_1"/>
   </tt:Source>
   <tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data>
  </tt:Message></wsnt:Message>
 </wsnt:NotificationMessage></tt:Event>
</tt:MetadataStream>"""


async def test_events_can_come_in_band_on_the_streams_metadata_track() -> None:
    async with OnvifDevice(username=USER, password=PASSWORD,
                           rtsp_options={"metadata": True}) as device:
        creds = Credentials(USER, PASSWORD)
        with anyio.fail_after(15):
            async with camsdk.open(device.url, credentials=creds, events="metadata") as cam:
                assert cam.supports(Capability.EVENTS)
                async with cam.events(kinds={EventKind.MOTION}) as events:
                    assert device.rtsp is not None
                    rtsp = device.rtsp
                    await wait_until(lambda: rtsp.send_metadata(METADATA) > 0)
                    event = await anext(aiter(events))
    assert event.kind is EventKind.MOTION and event.active
    assert event.vendor == "onvif" and "CellMotionDetector" in event.topic
    assert device.requests.count("CreatePullPointSubscription") == 0


async def test_talk_uses_the_onvif_backchannel_of_the_stream() -> None:
    async with OnvifDevice(username=USER, password=PASSWORD,
                           rtsp_options={"backchannel": "pcm_alaw"}) as device:
        creds = Credentials(USER, PASSWORD)
        with anyio.fail_after(15):
            async with camsdk.open(device.url, credentials=creds, backchannel=True) as cam:
                assert cam.supports(Capability.TWO_WAY_AUDIO)
                async with cam.talk() as speaker:
                    assert speaker.format.codec == "pcm_alaw"
                    await speaker.send(b"\x00\x10" * 4000)  # 0.5 s of quiet PCM at 8 kHz
                    assert device.rtsp is not None
                    rtsp = device.rtsp
                    await wait_until(lambda: len(rtsp.received_audio) >= 3600)


async def test_without_asking_there_is_no_talk() -> None:
    async with OnvifDevice(username=USER, password=PASSWORD,
                           rtsp_options={"backchannel": "pcm_alaw"}) as device:
        async with camsdk.open(device.url, credentials=Credentials(USER, PASSWORD)) as cam:
            assert not cam.supports(Capability.TWO_WAY_AUDIO)
