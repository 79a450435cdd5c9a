"""Runtime files are private to their owner: folders 0700, files 0600.

``var/`` holds every prediction (``control_room.db``), the MLflow store, logs, PID files, drift
reports and the API's reload token; on a shared machine none of it is anyone else's business.
Entry points (the CLI, ``python -m core.local_stack``) run under :data:`PRIVATE_UMASK`, the
supervisor starts every service with it, and an install made before this rule is tightened at
start by :func:`make_private`.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077  # new files 0600, new folders 0700


@contextmanager
def private_umask() -> Iterator[None]:
    """Create files and folders private to the owner inside the block; restore the umask after.

    Yields:
        Nothing; the umask is :data:`PRIVATE_UMASK` until the block ends.
    """
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(var_dir: Path) -> None:
    """Take group and other permissions off ``var_dir`` and everything in it (if it exists).

    Owner permissions are kept (an executable stays executable for its owner). Symbolic links
    are not followed, and a file this user may not change is left as it is.

    Args:
        var_dir: The runtime folder (``RAKUTEN_VAR_DIR``).
    """
    if not var_dir.is_dir():
        return  # made later, under the private umask
    _tighten(var_dir)
    for folder, subfolders, files in os.walk(var_dir):
        for name in (*subfolders, *files):
            _tighten(Path(folder) / name)


def open_private(path: Path, append: bool = False) -> BinaryIO:
    """Open a file for writing that only its owner may read, whatever the umask.

    Args:
        path: The file; created 0600, or made 0600 if it exists.
        append: Append to it rather than replace what it holds.

    Returns:
        The file, open in binary mode.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC), 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab" if append else "wb")


def _tighten(path: Path) -> None:
    try:
        current = path.lstat().st_mode
        if stat.S_ISLNK(current) or not current & 0o077:
            return
        path.chmod(stat.S_IMODE(current) & ~0o077)
    except OSError as exc:  # gone meanwhile, or someone else's file
        log.debug("cannot make %s private: %s", path, exc)
