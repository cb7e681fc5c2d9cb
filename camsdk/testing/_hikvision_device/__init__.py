"""`HikvisionDevice`: a simulated Hikvision camera or NVR on 127.0.0.1 for tests and benchmarks.

It is built on `camsdk.testing.HttpDevice` (ISAPI over HTTP/1.1 with Digest
or Basic auth) and `camsdk.testing.RtspServer` (the streams, at
``/Streaming/Channels/<id>`` on the RTSP port it reports in
``/ISAPI/Security/adminAccesses``), plus an SADP responder on loopback UDP::

    async with HikvisionDevice(kind="nvr", channels=8, offline={3}) as nvr:
        creds = camsdk.Credentials("admin", nvr.password)
        async with camsdk.hub(nvr.url, credentials=creds) as hub:
            ...
        nvr.emit("linedetection", channel=2, target="human")

What it answers: ``deviceInfo``; ``Streaming/channels`` (101/102 per
channel, 103 with ``third_stream``), ``Video/inputs/channels``; on NVRs
(``kind="nvr"``) ``InputProxy/channels`` (+ ``/status``) and
``StreamingProxy/channels``, alerts with ``channelID`` offset by 32 and the
camera in ``dynChannelID``; pictures (both endpoints); the multipart alert
stream with ``videoloss`` heartbeats every ``heartbeat`` seconds; PTZ
(continuous, absolute, status, presets, home); two-way audio (open, raw
``audioData`` upload, close); SADP ``ProbeMatch``.

Faults, as firmware shows them: ``lockout_after`` wrong passwords lock the
account for ``lockout_seconds`` (401 with a ``userCheck`` lock document,
right password or not); ``max_alert_streams`` caps alert-stream connections
(503 ``deviceBusy``); `HikvisionDevice.go_silent` stops every byte on open
alert streams with the sockets kept open; ``snapshot_errors`` answers
pictures with an XML error labelled ``image/jpeg``; ``alert_length_error``
writes wrong part ``Content-Length``\\s; ``missing`` paths answer 404; and
every `HttpDevice` wire fault (``device.http.route``/``split_chunks``/
``content_length``/``endless_headers``/``stall_after``/``drop_after``).
"""

from ._device import HikvisionDevice, PTZHead

__all__ = ["HikvisionDevice", "PTZHead"]
