"""WebRTC for camsdk drivers (extra ``webrtc``, on aiortc): receive as packets, send audio.

A pass-through tap: aiortc depacketises, runs its jitter buffer, NACKs and
PLIs; camsdk takes the encoded access units where aiortc would decode them,
so packets, recordings and snapshots work as for RTSP and nothing is decoded
unless a frame consumer asks.

- `WebRtcSession`: a peer connection configured for a vendor: the offer it
  wants (complete, with a data channel, or trickled), the answer through
  per-vendor SDP fixes, host-address and ICE-server choice (none by default);
- `WebRtcUpstream`: the session's media as a `camsdk.driver.PacketSource`,
  with `WebRtcUpstream.request_keyframe` (RTCP PLI);
- `WebRtcTalkChannel`: a talk channel on the session's audio send track;
- SDP answer fixes (`KNOWN_ANSWER_FIXES` and each named fix).

Importing this package does not import aiortc; building a `WebRtcSession`
does, and raises `camsdk.DriverUnavailableError` (hint
``pip install camsdk[webrtc]``) when it is missing. See ``docs/webrtc.md``.
"""

from __future__ import annotations

from ._sdp import (
    KNOWN_ANSWER_FIXES,
    AnswerFix,
    AudioCodec,
    answer_direction_within_offer,
    candidate_empty_foundation,
    h264_profile_from_offer,
    setup_actpass_as_passive,
)
from ._session import IceCandidate, IceServer, WebRtcSession
from ._talk import WebRtcTalkChannel
from ._upstream import WebRtcUpstream

__all__ = [
    "KNOWN_ANSWER_FIXES",
    "AnswerFix",
    "AudioCodec",
    "IceCandidate",
    "IceServer",
    "WebRtcSession",
    "WebRtcTalkChannel",
    "WebRtcUpstream",
    "answer_direction_within_offer",
    "candidate_empty_foundation",
    "h264_profile_from_offer",
    "setup_actpass_as_passive",
]
