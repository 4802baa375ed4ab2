"""Writing a report to ``--output``: atomically for a regular file, streamed to anything else.

A regular file (or a new one) is replaced in one rename, keeping the old file's permissions (a new file gets
the usual ``0666 & ~umask``); a symlink at that path is replaced by the report, never followed. A device, a
FIFO or a socket (``/dev/stdout``, ``/dev/null``, a named pipe) is written in place: replacing it would turn it
into a regular file. Missing parent folders are created (as ruff does). A folder, or a place that cannot be written, is an
``OutputError`` (a usage error).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mllint.atomic import write_atomic


class OutputError(Exception):
    """The report cannot be written where asked (the CLI prints it and exits 2)."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _special(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def write_report(path: Path, text: str) -> None:
    data = text.encode("utf-8", "surrogateescape")  # a file name's own bytes where they are not UTF-8
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"{path}: {exc.strerror or exc}") from None
    try:
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise OutputError(f"{path}: is a directory")
        if info is not None and stat.S_ISLNK(info.st_mode):
            try:  # a link to a device, FIFO or socket (/dev/stdout -> /proc/self/fd/1) is written through
                info_target = os.stat(path)
                if _special(info_target.st_mode):
                    info = info_target
            except OSError:
                pass
        if info is not None and _special(info.st_mode):
            with open(path, "wb") as fh:  # a device, FIFO or socket: stream, never replace
                fh.write(data)
            return
        mode = stat.S_IMODE(info.st_mode) if info is not None and stat.S_ISREG(info.st_mode) else _umask_mode()
        write_atomic(path, data, fsync=True, mode=mode)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
