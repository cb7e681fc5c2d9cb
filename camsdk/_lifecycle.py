"""``async with`` for the objects that hold sockets, tasks or threads until `aclose`."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["AsyncResource"]


class AsyncResource:
    """Something held open until `aclose`; ``async with`` opens it and closes it.

    ``async with x as y``: ``y`` is ``x`` once `_on_enter` has run, and `aclose`
    runs on the way out, error or not. `_on_enter` does nothing for objects
    that are open once built; those opened by ``connect``, ``open`` or
    ``start`` override it to call that method.
    """

    __slots__ = ()

    async def _on_enter(self) -> None:
        """What ``async with`` does before handing the object over (nothing by default)."""

    async def aclose(self) -> None:
        """Release everything the object holds. Idempotent."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self._on_enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
