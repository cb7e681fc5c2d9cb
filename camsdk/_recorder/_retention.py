"""Retention: which indexed files to delete, and deleting them (only those, never others).

The plan is made from the index alone, so a file the recorder did not write
(nothing in the index names it) is never a candidate; as a second guard a
path must also have the shape of a name the recorder makes and lie inside
the camera directory. Deleting blocks: call `delete` from a worker thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ._files import is_footage_name
from ._index import IndexStore, StoredFile
from ._models import Retention

__all__ = ["Victim", "delete", "plan"]


@dataclass(frozen=True, slots=True)
class Victim:
    """A file retention removes, and why (``"age"`` or ``"size"``)."""

    file: StoredFile
    reason: str


def plan(files: Sequence[StoredFile], retention: Retention, now_us: int) -> list[Victim]:
    """The files to delete, oldest first (``files`` oldest first, as the index lists them).

    By age: everything that ended before ``now - max_age``. By size: then the
    oldest files while the total exceeds ``max_bytes``, but never the newest
    segment, so a limit smaller than one segment still leaves footage.
    """
    newest = max(
        (f for f in files if f.table == "segments"), key=lambda f: (f.start_us, f.row),
        default=None,
    )
    victims: list[Victim] = []
    kept: list[StoredFile] = []
    cutoff = cutoff_us(retention, now_us)
    for f in files:
        if cutoff is not None and f.end_us < cutoff:
            victims.append(Victim(f, "age"))
        else:
            kept.append(f)
    if retention.max_bytes is not None:
        total = sum(f.bytes for f in kept)
        for f in kept:
            if total <= retention.max_bytes:
                break
            if f is newest:
                continue
            victims.append(Victim(f, "size"))
            total -= f.bytes
    return victims


def cutoff_us(retention: Retention, now_us: int) -> int | None:
    """Footage that ended before this (microseconds) is too old, or ``None`` without an age."""
    if retention.max_age is None:
        return None
    return now_us - retention.max_age // timedelta(microseconds=1)


def delete(store: IndexStore, victims: Sequence[Victim], cutoff: int | None) -> list[Path]:
    """Delete the victims' files and their index rows; return the paths removed."""
    root = store.directory.resolve()
    removed: list[Path] = []
    for victim in victims:
        relative = victim.file.path
        path = store.directory / relative
        if not is_footage_name(relative) or path.resolve().parent.parent not in (
            root, root / "clips"
        ):
            continue  # not a name the recorder makes: never touch it
        with contextlib.suppress(FileNotFoundError):
            if not path.is_dir():
                path.unlink()
                removed.append(path)
        _remove_empty_dirs(path.parent, root)
    store.forget([v.file for v in victims], older_than_us=cutoff)
    return removed


def _remove_empty_dirs(directory: Path, root: Path) -> None:
    """Remove the day (and ``clips``) directories the recorder made, once empty."""
    current = directory
    while current.resolve() != root and root in current.resolve().parents:
        try:
            os.rmdir(current)
        except OSError:
            return  # not empty (or gone): stop climbing
        current = current.parent
