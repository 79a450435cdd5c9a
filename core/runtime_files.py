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


def replace_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a reader sees the old file or the new one.

    The bytes go to a temporary name of this process's own beside it (several processes may
    write the same file at once), reach the disk, then are renamed over it (a new inode, 0600).

    Args:
        path: The file to replace (its folder must exist).
        data: Its new content.
    """
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open_private(partial) as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())  # the rename must not outlive the bytes after a power cut
    os.replace(partial, path)


def _tighten(path: Path) -> None:
    try:
        current = path.lstat().st_mode
        if stat.S_ISLNK(current) or not current & 0o077:
            return
        path.chmod(stat.S_IMODE(current) & ~0o077)
    except OSError as exc:  # gone meanwhile, or someone else's file
        log.debug("cannot make %s private: %s", path, exc)
