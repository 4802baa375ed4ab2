"""Write files through a temporary sibling and a rename, so no reader ever sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional


def write_atomic(path: Path, data: bytes, fsync: bool = False, mode: Optional[int] = None) -> None:
    """Replace ``path`` with ``data`` in one rename; the temporary file is removed on any failure.
    ``mode``: the new file's permissions (default: ``mkstemp``'s private 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
