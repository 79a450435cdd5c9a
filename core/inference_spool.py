"""The inference log's spill files: predictions that could not wait in memory for the database.

When the API's buffer is full, when the database has been failing for a while, or when the API
stops before it could write everything, rows are appended to JSON-lines files under a directory
(``<var_dir>/spool``, mode 0700; files 0600: they hold what people typed). The next writer (the
same process once the database is back, or the next start) replays them in order and deletes a
file only once all its rows are committed; rows are written at most once by request id, so a
replay cut short is simply replayed again.

A file being appended to is locked (``flock``); a replay skips locked files, so it never reads a
half-written one, even from another process. The total size is capped: past the cap an append is
refused with :class:`SpoolFull`, and the caller counts the rows as dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from core.inference_log import InferenceRecord

PREFIX = "inference_log-"
SUFFIX = ".jsonl"
DEFAULT_MAX_BYTES = 1 << 30
ROTATE_BYTES = 16 << 20  # files stay small enough to replay (and retry) one at a time


class SpoolFull(Exception):
    """The spool is at its size cap; nothing more can be kept."""


@dataclass(frozen=True)
class Replayed:
    """What one replayed file held."""

    rows: int
    unreadable: int  # lines that are not a record (a write cut short by a crash)


class Spool:
    """Append-only spill files of :class:`InferenceRecord` rows under ``directory``.

    Nothing touches the disk until the first append or scan.
    """

    def __init__(
        self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES, rotate_bytes: int = ROTATE_BYTES
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._file_bytes = 0
        self._size: int | None = None  # bytes in every spool file, scanned once then tracked

    def append(self, records: Iterable[InferenceRecord]) -> int:
        """Append records to the current file; returns how many.

        Raises:
            SpoolFull: They would take the spool over ``max_bytes``.
            OSError: The disk refused (full, read-only, ...).
        """
        lines = [_encode(record) for record in records]
        data = b"".join(lines)
        if not data:
            return 0
        with self._lock:
            if self._scanned() + len(data) > self.max_bytes:
                raise SpoolFull(f"the spool at {self.directory} is full ({self.max_bytes:,} bytes)")
            current = self._current()
            current.write(data)
            current.flush()  # in the page cache: a crash of the process loses nothing
            self._file_bytes += len(data)
            self._size = self._scanned() + len(data)
            if self._file_bytes >= self._rotate_bytes:
                self._seal()
        return len(lines)

    def size(self) -> int:
        """Bytes in every spool file (this process's and those left by earlier runs)."""
        with self._lock:
            return self._scanned()

    def files(self) -> list[Path]:
        """Spool files oldest first; the one being appended to is closed first, so it is in."""
        with self._lock:
            self._seal()
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"{PREFIX}*{SUFFIX}"))

    def replay(
        self,
        path: Path,
        write: Callable[[list[InferenceRecord]], None],
        *,
        batch_rows: int,
        batch_bytes: int,
    ) -> Replayed | None:
        """Pass the rows of ``path`` to ``write`` in batches, then delete the file.

        If ``write`` raises, the file stays (it is replayed whole next time) and the error
        propagates. Returns ``None`` when the file is gone or another process is writing it.
        """
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            rows = unreadable = 0
            for batch, bad in _batches(handle, batch_rows, batch_bytes):
                unreadable += bad
                if batch:
                    write(batch)
                    rows += len(batch)
            size = os.fstat(handle.fileno()).st_size
            path.unlink(missing_ok=True)  # still locked: no one else replays it meanwhile
        with self._lock:
            self._size = max(0, self._scanned() - size)
        return Replayed(rows, unreadable)

    def close(self) -> None:
        """Close (and sync) the file being appended to."""
        with self._lock:
            self._seal(sync=True)

    def _current(self) -> BinaryIO:
        if self._file is None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)  # also when it existed with looser rights
            name = f"{PREFIX}{time.time_ns():020d}-{os.getpid()}{SUFFIX}"
            fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(fd, "ab")
            fcntl.flock(self._file, fcntl.LOCK_EX)  # a replay must not read it half-written
            self._file_bytes = 0
        return self._file

    def _seal(self, sync: bool = False) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            if sync:
                os.fsync(self._file.fileno())
            self._file.close()  # releases the lock
        self._file = None

    def _scanned(self) -> int:
        if self._size is None:
            self._size = 0
            if self.directory.is_dir():
                for path in self.directory.glob(f"{PREFIX}*{SUFFIX}"):
                    with contextlib.suppress(FileNotFoundError):
                        self._size += path.stat().st_size
        return self._size


def _batches(
    handle: BinaryIO, batch_rows: int, batch_bytes: int
) -> Iterator[tuple[list[InferenceRecord], int]]:
    batch: list[InferenceRecord] = []
    size = unreadable = 0
    for line in handle:
        try:
            batch.append(_decode(line))
        except (ValueError, TypeError, KeyError):
            unreadable += 1
            continue
        size += len(line)
        if len(batch) >= batch_rows or size >= batch_bytes:
            yield batch, unreadable
            batch, size, unreadable = [], 0, 0
    yield batch, unreadable


def _encode(record: InferenceRecord) -> bytes:
    values = {name: getattr(record, name) for name in InferenceRecord.__slots__}
    values["at"] = record.at.isoformat()
    # ASCII escapes: a lone surrogate (refused later, with a reason) still round-trips.
    return json.dumps(values, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> InferenceRecord:
    values = json.loads(line)
    values["at"] = datetime.fromisoformat(values["at"])
    return InferenceRecord(**values)
