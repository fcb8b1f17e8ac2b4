"""Writing files so that a crash never leaves half of one: the cache, the directory
listings and ``--fix`` all write through :func:`write_atomic`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, prefix: str = ".tmp-", suffix: str = "", mode: int | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place:
    readers see the old file or the new one, never a partial one. Raises ``OSError``."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
