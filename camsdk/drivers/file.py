"""`FileDriver`: ``file:///path/clip.mp4`` replays a media file as if it were a camera.

For demos, tests and analytics on recorded footage: the file goes through the
same facade, policy, audit and media pipeline as a live camera. By default it
replays in real time (``realtime=1``: packets are paced by their timestamps)
and ends with `StreamEndedError` (iterators simply stop); ``loop=1`` starts
again at the end with timestamps that keep increasing, so it never ends.
``realtime=0`` reads as fast as consumers take the packets, and holds the
file back instead of dropping when they fall behind.

This is the one built-in driver that reads local data (`local_sources`),
and only the file named in the URL: FFmpeg may open nothing but local files
for it (``protocol_whitelist=file``), so a playlist or concat file cannot make
it fetch from the network.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from pydantic import Field

from camsdk.driver import (
    CameraDriver,
    CameraInfo,
    CameraProtocolError,
    CameraUnreachableError,
    CameraURL,
    Capability,
    ConfigurationError,
    DriverOptions,
    StreamProfile,
    StreamSource,
)

__all__ = ["FileDriver", "FileOptions"]


class FileOptions(DriverOptions):
    """Options of ``file://`` replay (URL query or keyword arguments of `camsdk.open`)."""

    loop: bool = Field(default=False, description="start again at the end instead of ending")
    realtime: bool = Field(default=True, description="pace packets by their timestamps")


def file_path(url: CameraURL) -> Path:
    """The local path a ``file:`` URL names (``file:///abs/path`` or ``file://localhost/...``)."""
    if url.host not in ("", "localhost"):
        raise ConfigurationError(
            "a file URL names a local path: file:///absolute/path.mp4",
            scheme="file", url=url.redacted(),
        )
    text = unquote(url.path)
    if not text or text == "/":
        raise ConfigurationError("file URL has no path", scheme="file", url=url.redacted())
    return Path(text)


def _probe(path: Path) -> dict[str, Any]:
    """Blocking: what the file holds (runs in a worker thread)."""
    import av

    if not os.path.isfile(path):
        what = "is not a regular file" if path.exists() else "does not exist"
        raise CameraUnreachableError(f"{path} {what}")
    try:
        with av.open(f"file:{path}", "r", container_options={"protocol_whitelist": "file"}) as c:
            video = next(iter(c.streams.video), None)
            audio = next(iter(c.streams.audio), None)
            if video is None:
                return {"video": None}
            rate = video.average_rate or video.guessed_rate
            return {
                "video": video.codec_context.name,
                "width": video.codec_context.width,
                "height": video.codec_context.height,
                "fps": float(rate) if rate else None,
                "bitrate": c.bit_rate or None,
                "audio": audio.codec_context.name if audio is not None else None,
                "duration": c.duration / 1_000_000 if c.duration else None,
            }
    except av.error.FFmpegError as exc:
        raise CameraProtocolError(f"not a media file FFmpeg can read: {exc.strerror}") from exc


class FileDriver(CameraDriver[FileOptions]):
    """Replays a local media file (see the module docstring and ``docs/drivers/file.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("file",)
    display_name: ClassVar[str] = "Media file replay"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT | Capability.STREAM | Capability.AUDIO | Capability.RECORD
    )
    requires: ClassVar[str] = "pip install camsdk"
    local_sources: ClassVar[bool] = True

    def setup(self) -> None:
        """Check the path in the URL (no I/O)."""
        self.path = file_path(self.url)

    async def connect(self) -> CameraInfo:
        """Check that the file exists and holds video; report its tracks."""
        redacted = self.url.redacted()
        path = self.path
        try:
            found = await asyncio.to_thread(_probe, path)
        except (CameraProtocolError, CameraUnreachableError) as exc:
            exc.scheme, exc.url = "file", redacted
            raise
        if found["video"] is None:
            raise CameraProtocolError(f"{path.name} has no video track", scheme="file",
                                      url=redacted)
        if found["audio"] is None:
            self.report_capabilities(self.declared_capabilities & ~Capability.AUDIO)
        profile = StreamProfile(
            name="main", codec=found["video"], width=found["width"] or None,
            height=found["height"] or None, fps=found["fps"], bitrate=found["bitrate"],
            audio_codec=found["audio"],
        )
        extra = {"path": str(path)}
        if found["duration"]:
            extra["duration"] = f"{found['duration']:.3f}"
        return CameraInfo(id=self.camera_id, name=path.name, model="Media file",
                          profiles=(profile,), extra=extra)

    async def stream_source(self, profile: str) -> StreamSource:
        """The file, paced and looped as the options say."""
        if profile != "main":
            raise ConfigurationError(f"a file has one profile, 'main' (not {profile!r})",
                                     scheme="file", url=self.url.redacted())
        return StreamSource(
            url=f"file:{self.path}",
            options={"protocol_whitelist": "file"},
            realtime=self.options.realtime,
            loop=self.options.loop,
        )
