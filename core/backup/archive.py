"""The backup file: one zip archive, portable between SQLite and PostgreSQL, versioned.

Format version 1::

    tables/<name>.jsonl   one JSON array per row, its values in the manifest's column order
    manifest.json         {"format": "rakuten-control-room-backup", "version": 1,
                           "created_at": "<ISO 8601, UTC>", "source_backend": "sqlite",
                           "tables": [{"name", "columns", "rows", "sha256"}, …]}

Values are plain JSON: integers, floats (Python's shortest exact repr; NaN and ±Infinity as
JSON's common extension), UTF-8 text, booleans, null, JSON columns as themselves. Datetimes are
ISO 8601 text in UTC with the offset: SQLite hands back naive ones, which the project always
writes in UTC, so they are marked UTC. Each table's row count and the SHA-256 of its member
(uncompressed) are in the manifest, on top of the zip's own CRC-32. The manifest is written last,
and the file is written beside its target and renamed when complete: a file cut short has no zip
directory and is refused as a whole, never read in part.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import DateTime, Table

from core.backup.manifest import (
    MANIFEST,
    VERSION,
    BackupError,
    Manifest,
    TableEntry,
    manifest_json,
    parse_manifest,
)

CHUNK_ROWS = 2_000  # rows per read, write and insert: bounded memory whatever the table's size
_READ_BYTES = 1 << 20
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError)


def write_archive(
    path: Path, source_backend: str, tables: Iterable[tuple[Table, Iterable[Sequence[Any]]]]
) -> Manifest:
    """Write ``tables`` (each with its rows, in column order) to a new archive at ``path``.

    Args:
        path: The backup file; replaced only once the new one is complete.
        source_backend: The dialect the rows come from (``sqlite``, ``postgresql``).
        tables: Each table with an iterable of its rows, streamed in order.

    Returns:
        The manifest written.

    Raises:
        BackupError: The folder does not exist or the file cannot be written.
    """
    if not path.parent.is_dir():
        raise BackupError(f"cannot write {path}: the folder {path.parent} does not exist")
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                entries = tuple(_write_table(archive, t, rows) for t, rows in tables)
                manifest = Manifest(VERSION, datetime.now(UTC), source_backend, entries)
                archive.writestr(MANIFEST, manifest_json(manifest))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, path)
    except OSError as exc:
        raise BackupError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return manifest


def _write_table(
    archive: zipfile.ZipFile, table: Table, rows: Iterable[Sequence[Any]]
) -> TableEntry:
    encoders = [_encoder(column.type) for column in table.columns]
    digest, count = hashlib.sha256(), 0
    member = TableEntry(table.name, (), 0, "").member
    # force_zip64: the size is unknown until the end, and the inference log may pass 2 GiB.
    with archive.open(member, "w", force_zip64=True) as out:
        for chunk in _chunks(rows):
            try:
                text = "".join(
                    json.dumps(
                        [enc(v) for enc, v in zip(encoders, row, strict=True)], ensure_ascii=False
                    )
                    + "\n"
                    for row in chunk
                )
            except (TypeError, ValueError) as exc:
                raise BackupError(f"table {table.name}: a value JSON cannot hold ({exc})") from exc
            data = text.encode("utf-8")
            digest.update(data)
            out.write(data)
            count += len(chunk)
    columns = tuple(column.name for column in table.columns)
    return TableEntry(table.name, columns, count, digest.hexdigest())


def _chunks(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _encoder(type_: Any) -> Callable[[Any], Any]:
    return _encode_datetime if isinstance(type_, DateTime) else _same


def _decoder(type_: Any) -> Callable[[Any], Any]:
    return _decode_datetime if isinstance(type_, DateTime) else _same


def _same(value: Any) -> Any:
    return value


def _encode_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _decode_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


class Archive:
    """An archive opened for reading: :func:`open_archive` checked its manifest."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest
        self._zip = zf

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._zip.close()

    def verify(self) -> None:
        """Read every member once: its row count and SHA-256 must be the manifest's.

        Raises:
            BackupError: A member is missing, damaged or differs from the manifest.
        """
        for entry in self.manifest.tables:
            digest, lines = hashlib.sha256(), 0
            with self._member(entry) as handle:
                while block := handle.read(_READ_BYTES):
                    digest.update(block)
                    lines += block.count(b"\n")
            if digest.hexdigest() != entry.sha256:
                raise BackupError(f"{self.path}: checksum mismatch in table {entry.name}")
            if lines != entry.rows:
                raise BackupError(
                    f"{self.path}: table {entry.name} has {lines} rows, the manifest {entry.rows}"
                )

    def rows(self, table: Table) -> Iterator[list[dict[str, Any]]]:
        """The rows of ``table`` as insertable dicts, :data:`CHUNK_ROWS` at a time."""
        entry = self.manifest.table(table.name)
        decoders = [_decoder(table.c[name].type) for name in entry.columns]
        width = len(entry.columns)
        chunk: list[dict[str, Any]] = []
        with self._member(entry) as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    values = json.loads(line)
                except ValueError:
                    values = None
                if not isinstance(values, list) or len(values) != width:
                    raise BackupError(f"{self.path}: table {table.name}, row {number} is malformed")
                chunk.append(
                    {n: dec(v) for n, dec, v in zip(entry.columns, decoders, values, strict=True)}
                )
                if len(chunk) == CHUNK_ROWS:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    @contextmanager
    def _member(self, entry: TableEntry) -> Iterator[IO[bytes]]:
        try:
            handle = self._zip.open(entry.member)
        except KeyError:
            raise BackupError(f"{self.path}: the member {entry.member} is missing") from None
        try:
            with handle:
                yield handle
        except _DAMAGED as exc:  # the zip's CRC-32 or the compressed stream itself
            raise BackupError(f"{self.path}: table {entry.name} is damaged ({exc})") from exc


def open_archive(path: Path) -> Archive:
    """Open the backup at ``path`` and check its manifest (not yet its members: see ``verify``).

    Args:
        path: The backup file.

    Returns:
        The archive, a context manager that closes the file.

    Raises:
        BackupError: No such file, not a backup, a newer format, or an unreadable manifest.
    """
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except (*_DAMAGED, OSError) as exc:
        raise BackupError(f"{path} is not a control-room backup, or is cut short ({exc})") from exc
    try:
        return Archive(path, zf, _read_manifest(path, zf))
    except BaseException:
        zf.close()
        raise


def _read_manifest(path: Path, zf: zipfile.ZipFile) -> Manifest:
    try:
        data = zf.read(MANIFEST)
    except KeyError:
        raise BackupError(f"{path} is not a control-room backup: no {MANIFEST}") from None
    except _DAMAGED as exc:
        raise BackupError(f"{path}: its {MANIFEST} is damaged ({exc})") from exc
    return parse_manifest(path, data)
