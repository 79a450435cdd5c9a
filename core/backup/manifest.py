"""The manifest of a backup file (format described in :mod:`core.backup.archive`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

FORMAT = "rakuten-control-room-backup"
VERSION = 1
MANIFEST = "manifest.json"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class TableEntry:
    """One table in an archive: its columns, how many rows, and the checksum of its member."""

    name: str
    columns: tuple[str, ...]
    rows: int
    sha256: str

    @property
    def member(self) -> str:
        """The table's member in the zip."""
        return f"tables/{self.name}.jsonl"


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an archive holds and where it comes from."""

    version: int
    created_at: datetime
    source_backend: str
    tables: tuple[TableEntry, ...]

    def table(self, name: str) -> TableEntry:
        """The entry of table ``name``."""
        return next(t for t in self.tables if t.name == name)


def manifest_json(manifest: Manifest) -> str:
    """The manifest as stored in the archive."""
    return json.dumps(
        {
            "format": FORMAT,
            "version": manifest.version,
            "created_at": manifest.created_at.isoformat(),
            "source_backend": manifest.source_backend,
            "tables": [
                {"name": t.name, "columns": list(t.columns), "rows": t.rows, "sha256": t.sha256}
                for t in manifest.tables
            ],
        },
        indent=1,
    )


def parse_manifest(path: Path, raw: bytes) -> Manifest:
    """The manifest read from ``raw`` (the archive's member), checked.

    Args:
        path: The backup file, named in errors.
        raw: The manifest member's bytes.

    Returns:
        The manifest.

    Raises:
        BackupError: Not JSON, not this format, another version, or missing fields.
    """
    try:
        data: Any = json.loads(raw)
    except ValueError as exc:
        raise BackupError(f"{path}: its {MANIFEST} is damaged ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"{path} is not a control-room backup (format is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise BackupError(
            f"{path}: backup format version {data.get('version')!r}, this control room reads "
            f"version {VERSION}"
        )
    try:
        tables = tuple(
            TableEntry(
                str(t["name"]), tuple(map(str, t["columns"])), int(t["rows"]), str(t["sha256"])
            )
            for t in data["tables"]
        )
        return Manifest(
            VERSION, datetime.fromisoformat(data["created_at"]), str(data["source_backend"]), tables
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{path}: its {MANIFEST} is incomplete ({exc!r})") from exc
