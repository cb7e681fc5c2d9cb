"""Replacing a small file that holds secrets: whole or not at all, readable by its owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["write_private"]


def write_private(
    path: Path, data: bytes, *, fsync: bool = True, fsync_directory: bool = False
) -> None:
    """Replace ``path`` with ``data`` atomically, mode 0600.

    The data goes to a temporary file beside ``path`` (created 0600, so it is
    never readable by others), is flushed to disk (``fsync``), then renamed
    over ``path``: a crash leaves the old file or the new one, never a mix.
    ``fsync_directory`` makes the rename itself durable too. Raises `OSError`;
    the temporary file is gone then.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync_directory:
        _fsync_directory_of(path)


def _fsync_directory_of(path: Path) -> None:
    # Makes a rename to ``path`` durable (POSIX; elsewhere nothing to do).
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
