"""SDP text handling around aiortc: answer fixes for vendor quirks, trickle, codec lookups.

Vendors answer offers with SDP that browsers tolerate but aiortc refuses, or
that aiortc accepts and then misreads. Each known quirk has one small fix
here, named after what it repairs; a fix is a plain function
``fix(answer, offer) -> answer`` over SDP text that leaves an answer without
the quirk unchanged. A driver lists the fixes its vendor needs
(``WebRtcSession(answer_fixes=...)``); `KNOWN_ANSWER_FIXES` holds them all.

SDP is parsed line by line with bounds (`MAX_SDP_BYTES`, `MAX_SDP_LINES`):
an oversized description is refused before any fix or aiortc sees it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "KNOWN_ANSWER_FIXES",
    "MAX_SDP_BYTES",
    "MAX_SDP_LINES",
    "AnswerFix",
    "AudioCodec",
    "Sdp",
    "answer_direction_within_offer",
    "candidate_empty_foundation",
    "first_audio_codec",
    "h264_profile_from_offer",
    "setup_actpass_as_passive",
    "sprop_parameter_sets",
    "without_candidates",
]

#: Largest SDP accepted from a peer (real offers and answers are a few kB).
MAX_SDP_BYTES = 64 * 1024
#: Most lines accepted in one SDP.
MAX_SDP_LINES = 2000

#: ``fix(answer, offer) -> answer``: repairs one vendor quirk in an SDP answer.
AnswerFix = Callable[[str, str], str]

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# What an answer may say for each offered direction (RFC 3264 section 6.1).
_ALLOWED_ANSWER = {
    "sendrecv": frozenset(_DIRECTIONS),
    "recvonly": frozenset({"sendonly", "inactive"}),
    "sendonly": frozenset({"recvonly", "inactive"}),
    "inactive": frozenset({"inactive"}),
}
_NARROWED = {"recvonly": "sendonly", "sendonly": "recvonly", "inactive": "inactive"}
_TRANSPORTS = frozenset({"udp", "tcp", "ssltcp", "tls"})
_RTPMAP = re.compile(r"a=rtpmap:(\d{1,3}) ([^/\s]+)/(\d+)(?:/(\d+))?")
_FMTP = re.compile(r"a=fmtp:(\d{1,3}) (.*)")


@dataclass(slots=True)
class Sdp:
    """SDP as lines: the session part and one list of lines per media section.

    ``parse`` checks the size bounds; ``text`` joins with CRLF, as RFC 8866 wants.
    """

    session: list[str]
    media: list[list[str]]

    @classmethod
    def parse(cls, text: str) -> Sdp:
        """Split ``text`` into sections; `ValueError` when it is too big or not SDP."""
        if len(text) > MAX_SDP_BYTES:
            raise ValueError(f"SDP is larger than {MAX_SDP_BYTES} bytes")
        lines = [line.rstrip("\r") for line in text.split("\n")]
        lines = [line for line in lines if line]
        if len(lines) > MAX_SDP_LINES:
            raise ValueError(f"SDP has more than {MAX_SDP_LINES} lines")
        if not lines or not lines[0].startswith("v="):
            raise ValueError("not an SDP description (no v= line first)")
        session: list[str] = []
        media: list[list[str]] = []
        for line in lines:
            if line.startswith("m="):
                media.append([line])
            elif media:
                media[-1].append(line)
            else:
                session.append(line)
        return cls(session, media)

    def text(self) -> str:
        """The description as text, CRLF line ends."""
        lines = [*self.session, *(line for section in self.media for line in section)]
        return "\r\n".join(lines) + "\r\n"

    @staticmethod
    def kind(section: list[str]) -> str:
        """``audio``, ``video``, ``application`` ... of a media section."""
        return section[0][2:].split(" ", 1)[0]

    @staticmethod
    def mid(section: list[str]) -> str | None:
        """The section's ``a=mid``, if any."""
        for line in section:
            if line.startswith("a=mid:"):
                return line[6:].strip()
        return None

    @staticmethod
    def direction(section: list[str], default: str = "sendrecv") -> str:
        """The section's direction attribute (``sendrecv`` when absent)."""
        for line in section:
            if line[2:] in _DIRECTIONS and line.startswith("a="):
                return line[2:]
        return default

    def offered_sections(self, offer: Sdp) -> Iterator[tuple[list[str], list[str] | None]]:
        """Each media section of this answer with the offer's section at the same index."""
        for index, section in enumerate(self.media):
            yield section, offer.media[index] if index < len(offer.media) else None


def _codecs(section: list[str]) -> dict[int, tuple[str, int, int | None]]:
    """``payload type -> (encoding name, clock rate, channels)`` of a media section."""
    found: dict[int, tuple[str, int, int | None]] = {}
    for line in section:
        match = _RTPMAP.fullmatch(line.strip())
        if match:
            channels = int(match.group(4)) if match.group(4) else None
            found[int(match.group(1))] = (match.group(2), int(match.group(3)), channels)
    return found


def _fmtp(section: list[str]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for line in section:
        match = _FMTP.fullmatch(line.strip())
        if match:
            params: dict[str, str] = {}
            for item in match.group(2).split(";"):
                key, _, value = item.strip().partition("=")
                if key:
                    params[key.strip().lower()] = value.strip()
            out[int(match.group(1))] = params
    return out


# -- answer fixes ---------------------------------------------------------------------------


def candidate_empty_foundation(answer: str, offer: str) -> str:
    """Nest: ``a=candidate: 1 udp ...`` has an empty foundation; give it one.

    aiortc reads the fields by position, so the component id is taken for
    the foundation and parsing fails (aiortc issue #589).
    """
    sdp = Sdp.parse(answer)
    counter = 0
    changed = False
    for section in sdp.media:
        for i, line in enumerate(section):
            if not line.startswith("a=candidate:"):
                continue
            fields = line[len("a=candidate:"):].split()
            if len(fields) >= 7 and fields[0].isdigit() and fields[1].lower() in _TRANSPORTS:
                counter += 1
                section[i] = "a=candidate:" + " ".join([f"camsdk{counter}", *fields])
                changed = True
    return sdp.text() if changed else answer


def setup_actpass_as_passive(answer: str, offer: str) -> str:
    """An answer that says ``a=setup:actpass`` (not allowed in answers): treat it as passive.

    aiortc refuses such an answer. The peer is ready to be either DTLS role;
    as passive it waits for our ClientHello, which we then send.
    """
    if "a=setup:actpass" not in answer:
        return answer
    return answer.replace("a=setup:actpass", "a=setup:passive")


def answer_direction_within_offer(answer: str, offer: str) -> str:
    """An answer that sends on a section we offered ``recvonly`` says ``sendrecv``: narrow it.

    aiortc would otherwise start an RTP sender without a track for that
    section, which polls every 20 ms for the connection's lifetime.
    """
    sdp = Sdp.parse(answer)
    offered = Sdp.parse(offer)
    changed = False
    for section, theirs in sdp.offered_sections(offered):
        if theirs is None or Sdp.kind(section) not in ("audio", "video"):
            continue
        offered_direction = Sdp.direction(theirs)
        answered = Sdp.direction(section)
        if answered in _ALLOWED_ANSWER[offered_direction]:
            continue
        narrowed = _NARROWED[offered_direction]
        lines = [line for line in section if line[2:] not in _DIRECTIONS]
        section[:] = [*lines, f"a={narrowed}"]
        changed = True
    return sdp.text() if changed else answer


def h264_profile_from_offer(answer: str, offer: str) -> str:
    """An answer whose H.264 profile (Main, High) or packetization mode differs from the offer.

    aiortc matches H.264 by profile and packetization mode and refuses the
    section when none matches. camsdk never decodes in aiortc (the tap passes
    access units through), and its depacketiser reads every mode, so the
    answer is relabelled with the offer's values; the stream's real profile
    is read from its SPS.
    """
    sdp = Sdp.parse(answer)
    offered = Sdp.parse(offer)
    changed = False
    for section, theirs in sdp.offered_sections(offered):
        if theirs is None or Sdp.kind(section) != "video":
            continue
        ours = _fmtp(theirs)
        target = next(
            (ours.get(pt, {}) for pt, codec in _codecs(theirs).items()
             if codec[0].upper() == "H264"),
            None,
        )
        if target is None:
            continue
        fmtps = _fmtp(section)
        for pt, codec in _codecs(section).items():
            if codec[0].upper() != "H264":
                continue
            params = dict(fmtps.get(pt, {}))
            wanted = {
                "profile-level-id": target.get("profile-level-id", "42e01f"),
                "packetization-mode": target.get("packetization-mode", "1"),
            }
            if all(params.get(k, "").lower() == v.lower() for k, v in wanted.items()):
                continue
            params.update(wanted)
            line = f"a=fmtp:{pt} " + ";".join(f"{k}={v}" if v else k for k, v in params.items())
            index = next(
                (i for i, old in enumerate(section) if old.startswith(f"a=fmtp:{pt} ")), None
            )
            if index is None:
                section.append(line)
            else:
                section[index] = line
            changed = True
    return sdp.text() if changed else answer


#: Every fix of this module, in a safe order.
KNOWN_ANSWER_FIXES: tuple[AnswerFix, ...] = (
    candidate_empty_foundation,
    setup_actpass_as_passive,
    answer_direction_within_offer,
    h264_profile_from_offer,
)


# -- helpers ---------------------------------------------------------------------------------


def without_candidates(sdp_text: str) -> str:
    """``sdp_text`` for a trickle exchange: no candidates, and ``a=ice-options:trickle``."""
    sdp = Sdp.parse(sdp_text)
    for section in sdp.media:
        section[:] = [
            line for line in section
            if not line.startswith(("a=candidate:", "a=end-of-candidates"))
        ]
        for i, line in enumerate(section):
            if line.startswith("c=IN IP4 "):
                section[i] = "c=IN IP4 0.0.0.0"
            elif line.startswith("c=IN IP6 "):
                section[i] = "c=IN IP6 ::"
        fields = section[0].split(" ")
        if len(fields) > 2:
            fields[1] = "9"  # RFC 8840: the discard port until candidates arrive
            section[0] = " ".join(fields)
    if not any(line.startswith("a=ice-options:") for line in sdp.session):
        sdp.session.append("a=ice-options:trickle")
    return sdp.text()


def sprop_parameter_sets(answer: str) -> list[bytes]:
    """H.264 parameter sets a peer announced in ``sprop-parameter-sets`` (RFC 6184), if any."""
    try:
        sdp = Sdp.parse(answer)
    except ValueError:
        return []
    units: list[bytes] = []
    for section in sdp.media:
        if Sdp.kind(section) != "video":
            continue
        codecs = _codecs(section)
        for pt, params in _fmtp(section).items():
            if codecs.get(pt, ("",))[0].upper() != "H264":
                continue
            for item in params.get("sprop-parameter-sets", "").split(","):
                try:
                    unit = base64.b64decode(item.strip(), validate=True)
                except (binascii.Error, ValueError):
                    continue
                if unit:
                    units.append(unit)
    return units[:64]


@dataclass(frozen=True, slots=True)
class AudioCodec:
    """An audio codec as negotiated: SDP name, clock rate and channels."""

    name: str
    clock_rate: int
    channels: int

    @property
    def ffmpeg_name(self) -> str:
        """FFmpeg's codec name (``opus``, ``pcm_mulaw``, ``pcm_alaw``, ``g722``)."""
        return _FFMPEG_AUDIO.get(self.name.lower(), self.name.lower())


_FFMPEG_AUDIO = {"opus": "opus", "pcmu": "pcm_mulaw", "pcma": "pcm_alaw", "g722": "g722"}
# Static payload types (RFC 3551) that an SDP may use without an rtpmap line.
_STATIC_AUDIO = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1)}


def first_audio_codec(sdp_text: str, *, usable: frozenset[str] = frozenset(_FFMPEG_AUDIO)) -> (
    AudioCodec | None
):
    """The first usable codec of the first audio section (what aiortc will send with)."""
    try:
        sdp = Sdp.parse(sdp_text)
    except ValueError:
        return None
    for section in sdp.media:
        if Sdp.kind(section) != "audio":
            continue
        fields = section[0].split()
        codecs: dict[int, tuple[str, int, int | None]] = {**_STATIC_AUDIO, **_codecs(section)}
        for pt_text in fields[3:]:
            if not pt_text.isdigit() or int(pt_text) not in codecs:
                continue
            name, clock, channels = codecs[int(pt_text)]
            if name.lower() in usable:
                return AudioCodec(name, clock, channels or 1)
        return None
    return None
