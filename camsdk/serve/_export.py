"""Exports: a clip of a granted window of kept footage, with a signed manifest.

`cut_clip` reads the footage segments that overlap the window and writes
one MP4 of the footage inside it, never outside: without masks it remuxes
the camera's packets from the first keyframe at or after the window's start
(nothing decoded), with the kept audio (AAC) from that keyframe to the
window's end; with masks it decodes from the keyframe before the start,
masks each frame and encodes H.264 only for frames inside the window, and
leaves the audio out: under masks the facade lets no raw media out, and
the camera's sound is raw media.

The manifest (``<clip>.manifest.json``) names the camera, the window, the
grant, the requester, the purpose, the SHA-256 and size of the clip, and is
signed by the owner's Ed25519 key over ``camsdk-export-v1`` and its
canonical JSON. `verify_export` (``camsdk export verify clip.mp4``) checks
the signature, the clip's hash and size, and optionally that the signing key
is the owner's; when the clip carries a C2PA manifest and the ``c2pa``
library is installed, it validates that too (`camsdk.serve._c2pa`), trusting
the root certificate the signed manifest names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._errors import RecordingError
from .._media import MediaPacket, StreamInfo
from .._pipeline._codec import H264Encoder
from ..privacy import MaskSet, key_id
from ..privacy._keys import canonical_json, sign_bytes, verify_bytes
from ._c2pa import C2paCheck, c2pa_available, check_clip
from ._footage import Segment
from ._mux import CodecFreeMp4, carried_audio

__all__ = ["ClipResult", "ExportVerification", "cut_clip", "sign_manifest", "verify_export"]

_CONTEXT = b"camsdk-export-v1\n"
MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True, slots=True)
class ClipResult:
    """What went into a clip: the first and last frame times and the frame count."""

    first: datetime
    last: datetime
    frames: int
    masked: bool
    #: The clip's audio codec (``"aac"``), or ``None`` for a video-only clip.
    audio: str | None = None

    @property
    def seconds(self) -> float:
        """Footage length in seconds."""
        return max(0.0, (self.last - self.first).total_seconds())


_TB = Fraction(1, 90000)


def _segment_packets(
    segment: Segment, origin: datetime
) -> tuple[StreamInfo, list[tuple[datetime, MediaPacket]]]:
    """A segment's packets with their wall-clock times, re-timed on one clip timeline.

    Each segment's timestamps start at zero; shifting them by the segment's
    start (from ``origin``) makes the packets of consecutive segments one
    increasing run: video in 1/90000 s, audio (when kept) in its sample rate.
    """
    import av

    shift = (segment.start - origin).total_seconds()
    with av.open(str(segment.path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        sound = container.streams.audio[0] if container.streams.audio else None
        actx = sound.codec_context if sound is not None else None
        rate = actx.sample_rate if actx is not None else 0
        info = StreamInfo(
            codec=ctx.name, width=ctx.width, height=ctx.height,
            fps=float(stream.average_rate) if stream.average_rate else None,
            time_base=_TB,
            extradata=bytes(ctx.extradata) if ctx.extradata else None,
            audio_codec=actx.name if actx is not None and rate else None,
            audio_sample_rate=rate or None,
            audio_channels=actx.channels if actx is not None and rate else None,
            audio_time_base=Fraction(1, rate) if rate else None,
            audio_extradata=bytes(actx.extradata) if actx is not None and actx.extradata
            else None,
        )
        out: list[tuple[datetime, MediaPacket]] = []
        zero: float | None = None  # the first video packet's time: the segment's start
        streams = [stream] if info.audio_codec is None else [stream, sound]
        for packet in container.demux(streams):
            if packet.size == 0 or packet.pts is None or packet.time_base is None:
                continue
            video = packet.stream.type == "video"
            if zero is None:
                if not video:
                    continue
                zero = float(packet.pts * packet.time_base)
            dts = packet.dts if packet.dts is not None else packet.pts
            seconds = float(packet.pts * packet.time_base) - zero
            decode = float(dts * packet.time_base) - zero
            at = segment.start + timedelta(seconds=seconds)
            if video:
                out.append((at, MediaPacket(bytes(packet), round((seconds + shift) * 90000),
                                            round((decode + shift) * 90000), _TB,
                                            bool(packet.is_keyframe))))
            else:
                out.append((at, MediaPacket(bytes(packet), round((seconds + shift) * rate),
                                            round((decode + shift) * rate), Fraction(1, rate),
                                            True, kind="audio")))
    return info, out


def cut_clip(segments: list[Segment], start: datetime, end: datetime, target: Path,
             masks: MaskSet | None) -> ClipResult:
    """Write the footage of ``[start, end)`` to ``target`` (blocking; see the module docstring).

    Raises `RecordingError` when no footage of the window is kept.
    """
    chosen = [s for s in segments if s.end >= start and s.start < end]
    timed: list[tuple[datetime, MediaPacket]] = []
    info: StreamInfo | None = None
    for segment in chosen:
        seg_info, packets = _segment_packets(segment, chosen[0].start)
        info = info or seg_info
        timed.extend(packets)
    if info is None or not timed:
        raise RecordingError("no footage is kept for that window")
    tmp = target.with_name(f".{target.name}.tmp")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)  # read back: hvc1 retag
    try:
        with os.fdopen(fd, "w+b") as fh:
            if masks is None:
                result = _remux(fh, info, timed, start, end)
            else:
                result = _transcode(fh, info, timed, start, end, masks)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def _remux(fh: Any, info: StreamInfo, timed: list[tuple[datetime, MediaPacket]],
           start: datetime, end: datetime) -> ClipResult:
    inside = [(at, p) for at, p in timed if start <= at < end]
    first_key = next((i for i, (_, p) in enumerate(inside)
                      if p.kind == "video" and p.keyframe), None)
    if first_key is None:
        raise RecordingError("the window holds no keyframe: nothing can be cut from it")
    # Audio a little before the keyframe (interleaving) is dropped by the writer.
    inside = inside[first_key:]
    video = [at for at, p in inside if p.kind == "video"]
    writer = CodecFreeMp4(fh, info.codec, info.extradata, info.width, info.height,
                          fragmented=False, audio=carried_audio(info))
    for _, pkt in inside:
        writer.write(pkt)
    writer.close()
    audio = "aac" if writer.has_audio and writer.audio_packets else None
    return ClipResult(video[0], video[-1], len(video), masked=False, audio=audio)


def _transcode(fh: Any, info: StreamInfo, timed: list[tuple[datetime, MediaPacket]],
               start: datetime, end: datetime, masks: MaskSet) -> ClipResult:
    from .._pipeline._codec import new_decoder, to_av_packet

    # Masked clips are video only (see the module docstring).
    timed = [(at, p) for at, p in timed if p.kind == "video"]
    # Decoding must begin on a keyframe: the last one at or before the window's start.
    begin = 0
    for i, (at, p) in enumerate(timed):
        if at > start:
            break
        if p.keyframe:
            begin = i
    by_pts = {p.pts: at for at, p in timed}
    decoder = new_decoder(info, threads=1)
    encoder = H264Encoder(fh, "mp4", info.width, info.height, info.fps)
    first: datetime | None = None
    last: datetime | None = None
    count = 0
    try:
        def frames_of(packet: MediaPacket | None) -> Any:
            return decoder.decode(to_av_packet(packet) if packet is not None else None)

        for item in [p for _, p in timed[begin:]] + [None]:
            for frame in frames_of(item):
                shown = by_pts.get(frame.pts)
                if shown is None or not start <= shown < end:
                    continue
                masked = masks.apply(frame, in_place=False)
                masked.pts = frame.pts
                masked.time_base = _TB
                encoder.write([masked])
                if first is None:
                    first = shown
                last = shown
                count += 1
        if first is None or last is None:
            raise RecordingError("no frame of the window decoded")
        encoder.close()
    except BaseException:
        encoder.abort()
        raise
    return ClipResult(first, last, count, masked=True)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _raw_public(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode("ascii")


def sign_manifest(fields: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``fields`` plus the signer's key id, public key and signature."""
    body = {**fields, "version": 1, "type": "camsdk.export", "key_id": key_id(key),
            "public_key": _raw_public(key.public_key())}
    body.pop("signature", None)
    return {**body, "signature": sign_bytes(key, _CONTEXT + canonical_json(body))}


@dataclass(frozen=True, slots=True)
class ExportVerification:
    """The result of `verify_export`."""

    ok: bool
    reason: str
    manifest: dict[str, Any]
    #: The embedded C2PA manifest's validation; ``None`` when the ``c2pa`` library is
    #: not installed.
    c2pa: C2paCheck | None = None


def verify_export(clip: Path, manifest_path: Path | None = None,
                  public_key: Ed25519PublicKey | None = None) -> ExportVerification:
    """Check a clip against its signed manifest (default: ``<clip>.manifest.json``).

    Without ``public_key`` the manifest's own key is used: that proves the
    clip is what the signer signed, and the result names the key id to
    compare with the owner's; with it, the signer must be that key. With the
    ``c2pa`` library installed, the clip's C2PA manifest is validated too
    (``Trusted`` when it chains to the root the verified manifest names); an
    embedded manifest that does not validate fails the check.
    """
    result, signed = _verify_signed(clip, manifest_path, public_key)
    if not c2pa_available() or not clip.is_file():
        return result
    c2pa_info = result.manifest.get("c2pa") if signed else None
    anchor = c2pa_info.get("trust_anchor") if isinstance(c2pa_info, dict) else None
    check = check_clip(clip, anchor if isinstance(anchor, str) else None)
    if result.ok and check.state not in ("Trusted", "Valid", "absent"):
        return ExportVerification(False, f"the C2PA manifest does not validate ({check.state})",
                                  result.manifest, check)
    return ExportVerification(result.ok, result.reason, result.manifest, check)


def _verify_signed(clip: Path, manifest_path: Path | None,
                   public_key: Ed25519PublicKey | None) -> tuple[ExportVerification, bool]:
    """The camsdk manifest's check, and whether its signature verified."""
    path = manifest_path or clip.with_name(clip.name + MANIFEST_SUFFIX)
    try:
        if path.stat().st_size > 1 << 20:
            return (ExportVerification(False, "manifest is larger than 1 MiB", {}), False)
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return (ExportVerification(False, f"manifest unreadable: {exc}", {}), False)
    if not isinstance(manifest, dict) or manifest.get("type") != "camsdk.export":
        return (ExportVerification(False, "not a camsdk export manifest", {}), False)
    signature = manifest.get("signature")
    body = {k: v for k, v in manifest.items() if k != "signature"}
    try:
        embedded = Ed25519PublicKey.from_public_bytes(
            base64.urlsafe_b64decode(str(manifest.get("public_key", "")))
        )
    except ValueError:
        return (ExportVerification(False, "manifest carries no valid public key", manifest), False)
    signer = public_key or embedded
    if public_key is not None and key_id(public_key) != key_id(embedded):
        return (ExportVerification(False, "signed by another key than the one given",
                                   manifest), False)
    if not isinstance(signature, str) or not verify_bytes(
        signer, _CONTEXT + canonical_json(body), signature
    ):
        return (ExportVerification(False, "signature does not verify: the manifest was altered",
                                  manifest), False)
    try:
        size = clip.stat().st_size
    except OSError as exc:
        return (ExportVerification(False, f"clip unreadable: {exc.strerror}", manifest), True)
    if size != manifest.get("bytes") or file_sha256(clip) != manifest.get("sha256"):
        return (ExportVerification(False, "the clip differs from the one signed (SHA-256)",
                                  manifest), True)
    return (ExportVerification(True, f"signed by key {manifest.get('key_id')}", manifest), True)
