"""`HlsUpstream`: an HLS stream fetched by camsdk and demuxed by PyAV from memory.

Two stages run side by side, so the next segment is fetched while the
current one is demuxed:

- the **fetch task** (``camsdk-hls ...``) loads the playlist (a master
  playlist: its highest-bandwidth variant), follows a live one
  (`SegmentCursor`, `reload_delay`) and fetches segments, their
  initialisation sections and AES-128 keys through the `Fetcher`, one
  segment ahead into a queue of one;
- the **consumer** (`start`, then iteration) hands each fetched segment to
  one worker thread (``camsdk-hls-demux``) that decrypts it, demuxes it with
  `SegmentDemuxer` and places its packets on the `Timeline`, then yields
  them.

Every URI comes from the parser already resolved and checked (http/https
only, no downgrade; `resolve_uri`); with ``allowed_hosts`` its host is
checked too before any fetch. The fetcher enforces the network rules.

Discontinuities (``EXT-X-DISCONTINUITY``, skipped or expired segments, a
playlist reset, a jump in the timestamps) are placed on the timeline as
`camsdk._hls._timeline` describes: by default the first DTS after the break
repeats the last one before it, which `StreamSession` turns into a
`Discontinuity` marker before continuing monotonically; ``seamless=True``
gives strictly increasing timestamps instead (counted in
``discontinuities``, not marked).

Failures: a VOD stream fails on the first segment that cannot be fetched,
decrypted or demuxed. A live one skips such a segment (the timeline breaks
there) up to ``HlsLimits.max_skipped_segments`` in a row, and tolerates
``max_reload_failures`` failed reloads in a row; refusals (credentials,
access, a foreign host, unsupported encryption) fail at once. A live
playlist that stops changing is reloaded at half its target duration for
as long as the consumer waits: the session's stall watchdog decides when
that is too long. At the end of a VOD (or once a live playlist gets
``#EXT-X-ENDLIST``) iteration raises `StreamEndedError`.

Audio is read when it is muxed into the video's segments; alternate audio
renditions (``EXT-X-MEDIA`` with a URI) are not fetched.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .._errors import (
    AccessDeniedError,
    AuthenticationError,
    CameraClosedError,
    CameraProtocolError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    RedirectRefusedError,
    StreamDecodeError,
    StreamEndedError,
    StreamError,
    StreamOpenError,
    UnsupportedCapabilityError,
)
from .._log import get_logger
from .._media import MediaPacket, StreamInfo
from ._crypto import KEY_BYTES, KeyCache, check_method, decrypt_aes128, segment_iv
from ._demux import SegmentDemuxer
from ._fetch import Fetcher, FetchResult
from ._limits import HlsLimits
from ._live import ScheduledSegment, SegmentCursor, reload_delay
from ._playlist import (
    ByteRange,
    InitSection,
    MasterPlaylist,
    MediaPlaylist,
    Segment,
    check_host,
    parse_playlist,
    resolve_uri,
)
from ._timeline import Timeline

__all__ = ["HlsUpstream"]

log = get_logger("camsdk.hls")

# Errors that no retry or skip can help: they end the stream at once.
_FATAL: tuple[type[CamError], ...] = (
    AuthenticationError,
    AccessDeniedError,
    CameraClosedError,
    ConfigurationError,
    RedirectRefusedError,
    UnsupportedCapabilityError,
)


def _is_fatal(exc: CamError) -> bool:
    """Errors no skip or retry can help. A bare `StreamError` says the stream itself changed."""
    return isinstance(exc, _FATAL) or type(exc) is StreamError


# Playlists larger than this are parsed in the worker thread, off the event loop.
_PARSE_INLINE_BYTES = 64 * 1024
_CLOSE_WAIT = 5.0


@dataclass(slots=True)
class _Job:
    """A fetched segment on its way to the worker thread."""

    segment: Segment
    data: bytes = field(repr=False)
    reason: str | None
    key: bytes | None = field(default=None, repr=False)
    init: bytes | None = field(default=None, repr=False)
    init_key: bytes | None = field(default=None, repr=False)
    init_iv: bytes | None = None


class _End:
    """The playlist ended and every segment was handed over."""


_Item: TypeAlias = _Job | _End | BaseException


class HlsUpstream:
    """One HLS media playlist as a packet source (see the module docstring).

    ``url`` is the media (or master) playlist; ``fetcher`` fetches for it.
    ``url_for_errors`` (redacted) and ``scheme`` go into every error raised
    here. ``seamless`` chooses how discontinuities reach the timestamps
    (see `camsdk._hls._timeline`). ``clock`` and ``sleep`` time the live
    reloads (tests pass a fake clock).
    """

    def __init__(
        self,
        url: str,
        fetcher: Fetcher,
        *,
        live_start_index: int = -1,
        audio: bool = True,
        url_for_errors: str | None = None,
        scheme: str | None = None,
        allowed_hosts: Collection[str] | None = None,
        limits: HlsLimits | None = None,
        seamless: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url_for_errors = url_for_errors
        self._scheme = scheme
        try:
            # The caller's own URL passes the same checks as every URI after it.
            self._url = resolve_uri(url, url)
        except CamError as exc:
            raise ConfigurationError(exc.message, scheme=scheme, url=url_for_errors) from None
        self._fetcher = fetcher
        self._live_start_index = live_start_index
        self._allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self._limits = limits or HlsLimits()
        self._seamless = seamless
        self._clock = clock
        self._sleep = sleep
        self._demuxer = SegmentDemuxer(
            audio=audio, max_packets=self._limits.max_packets_per_segment
        )
        self._timeline: Timeline | None = None
        self._keys = KeyCache(self._limits.key_cache_size)
        self._init_cache: tuple[InitSection, bytes] | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=1)
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._in_worker: concurrent.futures.Future[Any] | None = None
        self._pending: collections.deque[MediaPacket] = collections.deque()
        self._info: StreamInfo | None = None
        self._live = True
        self._finite = False
        self._closed = False
        self._skipped_in_row = 0
        # What reloads request (the variant's URI under a master playlist).
        self._media_url = self._url
        #: The media playlist as last loaded.
        self.playlist: MediaPlaylist | None = None
        #: Segments demuxed and handed on so far.
        self.segments = 0
        #: Segments skipped (live: missing, unfetchable or undecodable).
        self.skipped = 0
        #: Breaks in the timeline (discontinuities, gaps, resets, timestamp jumps).
        self.discontinuities = 0

    # -- the Upstream protocol ---------------------------------------------------------------

    @property
    def info(self) -> StreamInfo:
        """Codec parameters (valid after `start`)."""
        if self._info is None:
            raise StreamOpenError("the HLS stream is not open", scheme=self._scheme,
                                  url=self._url_for_errors)
        return self._info

    @property
    def live(self) -> bool:
        """Whether the playlist is live (it may grow); ``False`` for VOD."""
        return self._live

    @property
    def finite(self) -> bool:
        """Whether the stream ends for good: a VOD playlist, or one that got ``EXT-X-ENDLIST``."""
        return self._finite

    async def start(self) -> StreamInfo:
        """Load the playlist, fetch and demux segments until the stream is known.

        If it fails (or is cancelled) the upstream is closed before the error
        propagates.
        """
        self._check_open()
        if self._task is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="camsdk-hls-demux"
            )
            self._task = asyncio.get_running_loop().create_task(
                self._fetch_loop(), name=f"camsdk-hls {self._url_for_errors or 'stream'}"
            )
        try:
            while self._info is None:
                packets = await self._next_segment()
                self._info = self._demuxer.info
                self._pending.extend(packets)
        except BaseException:
            # A stream that never opened holds nothing the caller could still use.
            await self.aclose()
            raise
        return self._info

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        if self._info is None:
            raise self._context(StreamOpenError("iterated before start()"))
        pending = self._pending
        while True:
            while pending:
                yield pending.popleft()
            pending.extend(await self._next_segment())

    async def aclose(self) -> None:
        """Stop fetching (in-flight requests are cancelled) and release the worker. Idempotent.

        Everything is released before the first wait, so even an `aclose`
        that is itself cancelled leaves no task or thread behind for long.
        """
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        # Wake a consumer still waiting for a segment.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(self._context(CameraClosedError("the HLS stream was closed")))
        self._pending.clear()
        executor, self._executor = self._executor, None
        if executor is not None:
            # The thread ends after the job it is in, if any.
            executor.shutdown(wait=False, cancel_futures=True)
        if task is not None:
            # asyncio.wait, not await: our own cancellation must still propagate.
            await asyncio.wait({task}, timeout=_CLOSE_WAIT)
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: the consumer saw it through the queue
        running = self._in_worker
        if running is not None and not running.done():
            # Demuxing from memory ends by itself, within the segment size limit.
            await asyncio.wait({asyncio.wrap_future(running)}, timeout=_CLOSE_WAIT)

    def __repr__(self) -> str:
        return f"HlsUpstream({self._url_for_errors or 'hls'!r}, segments={self.segments})"

    # -- consumer side -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise self._context(CameraClosedError("the HLS stream was closed"))

    def _context(self, err: BaseException) -> BaseException:
        """Give a camsdk error the stream's scheme and redacted URL, if it has none."""
        if isinstance(err, CamError):
            if err.url is None:
                err.url = self._url_for_errors
            if err.scheme is None:
                err.scheme = self._scheme
        return err

    async def _next_segment(self) -> list[MediaPacket]:
        """The next segment's packets (possibly none), or the error that ended the stream."""
        while True:
            self._check_open()
            item = await self._queue.get()
            if isinstance(item, _End):
                self._queue.put_nowait(item)  # every later call ends too
                raise self._context(StreamEndedError("the HLS playlist ended"))
            if isinstance(item, BaseException):
                self._queue.put_nowait(item)
                raise self._context(item)
            try:
                packets, reason = await self._in_thread(item)
            except CamError as exc:
                if not self._may_skip(exc):
                    self._context(exc)
                    raise
                log.debug("HLS segment %d skipped: %s", item.segment.sequence, exc.message)
                continue
            self._skipped_in_row = 0
            self.segments += 1
            if reason is not None:
                self.discontinuities += 1
                log.debug("HLS timeline break before segment %d (%s)",
                          item.segment.sequence, reason)
            return packets

    def _may_skip(self, exc: CamError) -> bool:
        """Live: skip a segment that failed, a few in a row at most. VOD: never."""
        if not self._live or _is_fatal(exc):
            return False
        if self._skipped_in_row >= self._limits.max_skipped_segments:
            return False
        self._skipped_in_row += 1
        self.skipped += 1
        return True

    async def _in_thread(self, job: _Job) -> tuple[list[MediaPacket], str | None]:
        executor = self._executor
        if executor is None:
            raise CameraClosedError("the HLS stream was closed")
        future = executor.submit(self._process, job)
        self._in_worker = future
        try:
            return await asyncio.wrap_future(future)
        except CamError:
            raise
        except Exception as exc:
            log.debug("HLS segment %d failed in the worker", job.segment.sequence, exc_info=True)
            raise StreamDecodeError(
                f"a segment could not be demuxed ({type(exc).__name__})"
            ) from exc

    # -- worker thread -----------------------------------------------------------------------

    def _process(self, job: _Job) -> tuple[list[MediaPacket], str | None]:
        """Decrypt, demux and place one segment (blocking)."""
        segment = job.segment
        data = job.data
        if job.key is not None and segment.key is not None:
            data = decrypt_aes128(data, job.key, segment_iv(segment.key, segment.sequence))
        init = job.init
        if init is not None and job.init_key is not None and job.init_iv is not None:
            init = decrypt_aes128(init, job.init_key, job.init_iv)
        demuxed = self._demuxer.demux(data, init=init)
        info = self._demuxer.info
        if info is None:
            return [], None  # no picture size yet: nothing decodable came before it
        timeline = self._timeline
        if timeline is None:
            timeline = self._timeline = Timeline(
                info.time_base, info.audio_time_base,
                wraps=demuxed.format == "mpegts", seamless=self._seamless,
            )
        return timeline.place(demuxed.packets, reason=job.reason, duration=segment.duration,
                              wallclock=segment.program_date_time)

    # -- fetch task --------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        try:
            await self._follow()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._queue.put(self._context(exc))

    async def _follow(self) -> None:
        loaded_at = self._clock()
        playlist = await self._load_media_playlist()
        self._live = playlist.live
        self._note(playlist)
        cursor = SegmentCursor(self._live_start_index)
        scheduled = collections.deque(cursor.update(playlist))
        changed = True
        reload_failures = 0
        carried: str | None = None  # a break left by skipped segments
        while True:
            while scheduled:
                item = scheduled.popleft()
                job = await self._fetch(item, carried)
                if job is None:
                    carried = carried or "gap"
                    continue
                carried = None
                await self._queue.put(job)
            if not playlist.live:
                await self._queue.put(_End())
                return
            await self._sleep(reload_delay(playlist, changed=changed,
                                           elapsed=self._clock() - loaded_at))
            loaded_at = self._clock()
            try:
                reloaded = await self._load(self._media_url)
            except CamError as exc:
                reload_failures += 1
                if _is_fatal(exc) or reload_failures > self._limits.max_reload_failures:
                    raise
                log.debug("HLS playlist reload failed (%d in a row): %s", reload_failures,
                          exc.message)
                changed = False
                continue
            if not isinstance(reloaded, MediaPlaylist):
                raise CameraProtocolError("the media playlist turned into a master playlist")
            reload_failures = 0
            playlist = reloaded
            self._note(playlist)
            fresh = cursor.update(playlist)
            changed = bool(fresh) or not playlist.live
            scheduled.extend(fresh)

    def _note(self, playlist: MediaPlaylist) -> None:
        self.playlist = playlist
        if not playlist.live:
            self._finite = True

    async def _fetch(self, item: ScheduledSegment, carried: str | None) -> _Job | None:
        """Fetch one segment; ``None`` when it was skipped (live only)."""
        segment = item.segment
        if segment.gap:
            return None  # EXT-X-GAP: the server says there is nothing to fetch
        try:
            return await self._fetch_segment(segment, item.reason or carried)
        except CamError as exc:
            if not self._may_skip(exc):
                raise
            log.debug("HLS segment %d skipped: %s", segment.sequence, exc.message)
            return None

    async def _fetch_segment(self, segment: Segment, reason: str | None) -> _Job:
        check_method(segment.key)
        job = _Job(segment, b"", reason)
        if segment.init is not None:
            job.init, job.init_key, job.init_iv = await self._init_section(segment.init)
        if segment.key is not None:
            job.key = await self._key(segment.key.uri)
        job.data = await self._get(segment.uri, self._limits.max_segment_bytes,
                                   segment.byte_range)
        return job

    async def _init_section(
        self, init: InitSection
    ) -> tuple[bytes, bytes | None, bytes | None]:
        key = init.key
        check_method(key)
        key_bytes = iv = None
        if key is not None:
            if key.iv is None:
                raise CameraProtocolError("an encrypted EXT-X-MAP needs an explicit IV")
            key_bytes, iv = await self._key(key.uri), key.iv
        cached = self._init_cache
        if cached is not None and cached[0] == init:
            return cached[1], key_bytes, iv
        data = await self._get(init.uri, self._limits.max_init_bytes, init.byte_range)
        self._init_cache = (init, data)
        return data, key_bytes, iv

    async def _key(self, uri: str | None) -> bytes:
        if uri is None:  # pragma: no cover - check_method refused such keys already
            raise UnsupportedCapabilityError("an HLS key without a URI")
        key = self._keys.get(uri)
        if key is None:
            key = await self._get(uri, KEY_BYTES, None)
            if len(key) != KEY_BYTES:
                raise CameraProtocolError(
                    f"an AES-128 key of {len(key)} bytes (it must have {KEY_BYTES})"
                )
            self._keys.put(uri, key)
        return key

    # -- fetching ----------------------------------------------------------------------------

    async def _load_media_playlist(self) -> MediaPlaylist:
        playlist = await self._load(self._url)
        if isinstance(playlist, MasterPlaylist):
            ranked = playlist.by_bandwidth()
            if not ranked:
                raise CameraProtocolError("the master playlist lists no variant")
            self._media_url = ranked[0].uri
            playlist = await self._load(self._media_url)
            if isinstance(playlist, MasterPlaylist):
                raise CameraProtocolError("a master playlist names another master playlist")
        if not playlist.live and not playlist.segments:
            raise StreamOpenError("the HLS playlist lists no segment")
        return playlist

    async def _load(self, url: str) -> MasterPlaylist | MediaPlaylist:
        result = await self._fetch_result(url, self._limits.max_playlist_bytes, None)
        base = result.url
        if len(result.content) <= _PARSE_INLINE_BYTES or self._executor is None:
            return parse_playlist(result.content, base, limits=self._limits)
        future = self._executor.submit(parse_playlist, result.content, base, limits=self._limits)
        return await asyncio.wrap_future(future)

    async def _get(self, url: str, max_bytes: int, byte_range: ByteRange | None) -> bytes:
        result = await self._fetch_result(url, max_bytes, byte_range)
        content = result.content
        if byte_range is not None and len(content) != byte_range.length:
            if len(content) < byte_range.end:
                raise CameraProtocolError(
                    f"a byte range of {byte_range.length} bytes came back with {len(content)}"
                )
            # The server ignored the Range header and sent the whole resource.
            content = content[byte_range.offset : byte_range.end]
        return content

    async def _fetch_result(
        self, url: str, max_bytes: int, byte_range: ByteRange | None
    ) -> FetchResult:
        if self._allowed is not None:
            check_host(url, self._allowed)
        try:
            result = await self._fetcher.get(url, max_bytes=max_bytes, byte_range=byte_range)
        except CamError:
            raise
        except OSError as exc:
            raise CameraUnreachableError(f"HLS fetch failed: {type(exc).__name__}") from exc
        except Exception as exc:
            raise CameraProtocolError(f"HLS fetch failed: {type(exc).__name__}") from exc
        if len(result.content) > max_bytes:
            raise CameraProtocolError(f"a response of more than {max_bytes} bytes")
        # The final URL (after redirects) is the base of what the body names: check it too.
        final = resolve_uri(url, result.url) if result.url != url else url
        if self._allowed is not None and final != url:
            check_host(final, self._allowed)
        if final != result.url:
            result = FetchResult(final, result.content, result.content_type)
        return result
