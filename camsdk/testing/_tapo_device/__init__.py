"""`TapoDevice`: a simulated TP-Link Tapo camera on 127.0.0.1.

It answers the local API over HTTPS with a self-signed certificate (an
`HttpDevice`): ``POST /`` logins in both variants (``secure=True``: the
``encrypt_type`` 3 nonce exchange, with the password kept as SHA-256 or
MD5, then AES ``securePassthrough`` with checked ``Seq``/``Tapo_tag``;
``secure=False``: the legacy MD5 login; ``tpap=True``: a camera that only
speaks the newer TPAP login) and ``POST /stok=<stok>/ds`` with
``multipleRequest`` and the direct ``do``/``get`` motor form. It serves
``stream1``/``stream2`` on an `RtspServer` with the camera account's Digest
credentials, and an `OnvifDevice` PullPoint (camera account) that sends
Tapo's detection topics (`TAPO_TOPICS`, `TapoDevice.detect`)::

    async with TapoDevice(secure=True, lockout_after=5) as cam:
        async with camsdk.open(cam.url, credentials=camsdk.Credentials("admin", cam.password),
                               stream_credentials=camsdk.Credentials(cam.stream_user,
                                                                     cam.stream_password)):
            ...
        cam.detect("person")

Faults and states: ``session_ttl`` / ``session_requests`` expire session
tokens (``-40401``; `expire_sessions` at once); ``lockout_after`` wrong
passwords lock logins for ``lockout_seconds`` (``-40404`` with
``sec_left``); `set_privacy` switches the lens mask as the app would: with
``privacy_stream="stop"`` (default) RTSP drops every session and refuses
new ones, with ``"placeholder"`` it keeps streaming (models that show a
"privacy mode" picture); the ONVIF snapshot is refused meanwhile, and the
motor refuses to move (``-64324``). ``legacy_format`` answers like
firmware 1.3 (``.name``/``.type`` keys, ``features`` as text).
"""

from ._device import TAPO_TOPICS, TapoDevice

__all__ = ["TAPO_TOPICS", "TapoDevice"]
