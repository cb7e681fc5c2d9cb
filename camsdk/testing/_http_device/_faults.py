"""Fault injection of `HttpDevice`: the switches, and the writer that obeys them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Any, Self

__all__ = ["Dropped", "FaultInjection", "Faults", "Stalled", "Wire"]


@dataclass(frozen=True, slots=True)
class Faults:
    """The faults in force for one response (``None``: not set)."""

    #: Bytes per second; the response goes out one byte (or one split piece) at a time.
    trickle: float | None = None
    #: Seconds between endless header lines (0: as fast as the client reads).
    endless_headers: float | None = None
    #: The ``Content-Length`` declared, whatever the body is.
    content_length: int | None = None
    #: Bytes of the response sent before the device stops sending (socket kept open).
    stall_after: int | None = None
    #: Bytes of the response sent before the device closes the connection.
    drop_after: int | None = None
    #: Piece sizes every write is cut into, repeated in turn.
    split_chunks: tuple[int, ...] | None = None

    def over(self, fallback: Faults) -> Faults:
        """These faults, with ``fallback``'s where these are unset."""
        return Faults(
            **{
                f.name: getattr(self, f.name)
                if getattr(self, f.name) is not None
                else getattr(fallback, f.name)
                for f in fields(self)
            }
        )


class FaultInjection:
    """Fault switches shared by `HttpDevice` (every response) and `Route` (its own).

    Each method returns ``self`` so calls chain; `clear_faults` turns all off.
    Faults are read before every write, so switching one on mid-test affects
    running responses too (``content_length`` and ``endless_headers`` only
    matter before the head is sent; byte counts start at each response).
    """

    faults: Faults

    def trickle(self, bytes_per_second: float) -> Self:
        """Slowloris: send responses one byte at a time at ``bytes_per_second``."""
        if bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be positive")
        return self._set(trickle=float(bytes_per_second))

    def endless_headers(self, interval: float = 0.0) -> Self:
        """After the status line, send header lines forever (``interval`` s apart)."""
        if interval < 0:
            raise ValueError("interval must be >= 0")
        return self._set(endless_headers=float(interval))

    def content_length(self, n: int) -> Self:
        """Declare ``Content-Length: n`` whatever the body's real length (no chunking)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return self._set(content_length=n)

    def stall_after(self, n_bytes: int) -> Self:
        """Stop sending after ``n_bytes`` of a response and keep the socket open (half-open)."""
        if n_bytes < 0:
            raise ValueError("n_bytes must be >= 0")
        return self._set(stall_after=n_bytes)

    def drop_after(self, n_bytes: int) -> Self:
        """Close the connection after ``n_bytes`` of a response."""
        if n_bytes < 0:
            raise ValueError("n_bytes must be >= 0")
        return self._set(drop_after=n_bytes)

    def split_chunks(self, sizes: Iterable[int]) -> Self:
        """Cut every write into pieces of ``sizes`` (in turn), each written on its own."""
        pieces = tuple(int(s) for s in sizes)
        if not pieces or min(pieces) < 1:
            raise ValueError("sizes must be positive and not empty")
        return self._set(split_chunks=pieces)

    def clear_faults(self) -> Self:
        """Turn every fault of this device (or route) off."""
        self.faults = Faults()
        return self

    def _set(self, **change: Any) -> Self:
        self.faults = replace(self.faults, **change)
        return self


class Stalled(Exception):
    """The response reached ``stall_after``: keep the socket open, send nothing more."""


class Dropped(Exception):
    """The response reached ``drop_after`` or the device is closing: close the socket."""


class Wire:
    """Writes one response through the faults in force, counting its bytes.

    ``faults`` is read again before every write, so a fault switched on while
    a long response is running (an MJPEG stream going bad) applies from then.
    """

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        faults: Callable[[], Faults],
        running: Callable[[], bool],
    ) -> None:
        self._writer = writer
        self._faults = faults
        self._running = running
        self._pieces: tuple[int, ...] | None = None
        self._sizes: Iterator[int] = iter(())
        self.sent = 0

    def _limit(self, faults: Faults) -> tuple[int, type[Exception]] | None:
        pairs = ((faults.stall_after, Stalled), (faults.drop_after, Dropped))
        limits = [(n, kind) for n, kind in pairs if n is not None]
        return min(limits, key=lambda item: item[0]) if limits else None

    async def send(self, data: bytes) -> None:
        """Write ``data``, stopping where a stall or drop fault says."""
        view = memoryview(data)
        while view:
            faults = self._faults()
            limit = self._limit(faults)
            take = len(view)
            if limit is not None:
                remaining = limit[0] - self.sent
                if remaining <= 0:
                    raise limit[1]()
                take = min(take, remaining)
            await self._emit(view[:take], faults)
            self.sent += take
            view = view[take:]

    async def _emit(self, data: memoryview, faults: Faults) -> None:
        pieces = faults.split_chunks or ((1,) if faults.trickle else None)
        if pieces is None:
            self._write(data)
            await self._writer.drain()
            return
        if pieces != self._pieces:
            self._pieces, self._sizes = pieces, itertools.cycle(pieces)
        while data:
            piece = data[: next(self._sizes)]
            self._write(piece)
            await self._writer.drain()
            # The pause is the fault itself (the device's pace), or a turn of the
            # loop so the client reads each piece on its own.
            await asyncio.sleep(len(piece) / faults.trickle if faults.trickle else 0)
            data = data[len(piece) :]

    def _write(self, data: memoryview) -> None:
        if not self._running() or self._writer.transport.is_closing():
            raise Dropped()
        self._writer.write(bytes(data))

    async def endless_headers(self, interval: float) -> None:
        """Header lines until the client gives up or the device closes (never returns)."""
        for number in itertools.count(1):
            await self.send(f"X-Padding-{number}: {'x' * 48}\r\n".encode())
            await asyncio.sleep(interval)
