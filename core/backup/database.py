"""Back up the control room's whole database to one file, and restore it, SQLite or PostgreSQL.

Every table of :data:`core.db.tables.metadata` goes into the archive (:mod:`core.backup.archive`),
read in one snapshot; a restore writes them all in one transaction, so it happens entirely or not
at all. Both are an admin's, and audited.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, text

from core.access.actor import Actor
from core.access.audit import AuditEntry, AuditLog, audited
from core.access.audit_store import SqlAuditLog
from core.access.permissions import Action, checks
from core.backup.archive import Archive, open_archive, write_archive
from core.backup.manifest import BackupError, Manifest
from core.db.engine import describe
from core.db.tables import metadata

log = logging.getLogger(__name__)


class RestoreRefused(BackupError):
    """The target database is not empty and ``replace`` was not asked for; nothing changed."""


@checks(Action.BACKUP)
def backup_database(engine: Engine, path: Path, *, actor: Actor) -> Manifest:
    """Write every table of the control room's database to the archive ``path``.

    The rows are read in one transaction (REPEATABLE READ on PostgreSQL, one read transaction on
    SQLite), so the file is one moment of the database even while the API keeps logging.

    Args:
        engine: The control room's database.
        path: The backup file; an existing one is replaced only once the new one is complete.
        actor: Who backs up (an admin: the file holds everyone's data).

    Returns:
        The archive's manifest (row counts per table).

    Raises:
        BackupError: The file cannot be written.
        PermissionDenied: ``actor`` is not an admin.
    """
    with audited(SqlAuditLog(engine), actor, Action.BACKUP, target=path.name):
        with _snapshot(engine) as conn:
            tables = ((t, _rows(conn, t)) for t in metadata.sorted_tables)
            return write_archive(path, engine.dialect.name, tables)


@checks(Action.RESTORE)
def restore_database(
    engine: Engine, path: Path, *, actor: Actor, replace: bool = False
) -> Manifest:
    """Load the archive ``path`` into the database, in one transaction.

    The archive is checked whole first (format version, every table's checksum and row count,
    the same tables and columns as this version of the control room). The target must be empty
    unless ``replace``, which empties it first, in the same transaction. On PostgreSQL the id
    sequences are then moved past the restored ids.

    Args:
        engine: The database to restore into.
        path: The backup file.
        actor: Who restores (an admin).
        replace: Empty a database that holds rows instead of refusing it.

    Returns:
        The archive's manifest.

    Raises:
        BackupError: The file is missing, damaged, of another format or another schema.
        RestoreRefused: The database holds rows and ``replace`` is false.
        PermissionDenied: ``actor`` is not an admin.
    """
    params = {"file": path.name, "replace": replace}
    with audited(_RestoreAuditLog(engine), actor, Action.RESTORE, target="database", params=params):
        with open_archive(path) as archive:
            _check_schema(archive)
            archive.verify()
            with engine.begin() as conn:
                _load(conn, archive, replace, describe(engine))
            return archive.manifest


class _RestoreAuditLog(AuditLog):
    """Writes ``done`` and ``refused``; a failed restore goes to the process log only.

    A failed restore promises the database exactly as it was: an audit row would break that,
    and would make an empty target non-empty, refusing the retry.
    """

    def __init__(self, engine: Engine) -> None:
        self._sql = SqlAuditLog(engine)

    def record(self, entry: AuditEntry) -> None:
        """Write ``entry`` unless it is a failure (then log it)."""
        if entry.outcome == "failed":  # the caller reports the error itself
            log.debug("restore by %s failed: %s", entry.actor.label, entry.message)
        else:
            self._sql.record(entry)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        # SQLite: the engine begins every transaction explicitly (core.db.engine), and in WAL
        # mode one transaction reads one snapshot from its first read on.
        with conn.begin():
            yield conn


def _rows(conn: Connection, table: Table) -> Iterator[Sequence[Any]]:
    query = select(table).order_by(*table.primary_key.columns)
    # yield_per streams (a server-side cursor on PostgreSQL): the inference log may be large.
    yield from conn.execution_options(yield_per=2_000).execute(query)


def _check_schema(archive: Archive) -> None:
    have = {t.name: t for t in archive.manifest.tables}
    known = {t.name: t for t in metadata.sorted_tables}
    missing, unknown = sorted(known.keys() - have.keys()), sorted(have.keys() - known.keys())
    problems = []
    if missing:
        problems.append(f"lacks the table(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"has unknown table(s) {', '.join(unknown)}")
    for name in sorted(known.keys() & have.keys()):
        expected, found = {c.name for c in known[name].columns}, set(have[name].columns)
        if expected != found:
            lacks, extra = sorted(expected - found), sorted(found - expected)
            problems.append(f"table {name} lacks columns {lacks} and has unknown columns {extra}")
    if problems:
        raise BackupError(
            f"{archive.path} does not match this database's schema: " + "; ".join(problems)
        )


def _load(conn: Connection, archive: Archive, replace: bool, where: str) -> None:
    tables = metadata.sorted_tables  # parents before children (load_history before loaded_products)
    if conn.dialect.name == "postgresql":
        # Nobody writes (nor reads half a restore) until it commits; a session that holds on to
        # a table (the app, the API still running) fails the restore in seconds, not a hang.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
        conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
    counts = {
        t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
    }
    filled = [f"{name} {n:,}" for name, n in counts.items() if n]
    if filled and not replace:
        raise RestoreRefused(
            f"the database {where} is not empty ({', '.join(filled)} rows): "
            "restore into an empty database, or add --replace to empty it first"
        )
    for table in reversed(tables):
        conn.execute(delete(table))
    for table in tables:
        for chunk in archive.rows(table):
            conn.execute(insert(table), chunk)
    if conn.dialect.name == "postgresql":
        _move_sequences(conn, tables)


def _move_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    # The restored rows carry their ids; without this the next insert would take id 1 again.
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        after = func.coalesce(select(func.max(column)).scalar_subquery(), 0) + 1
        sequence = func.pg_get_serial_sequence(table.name, column.name)
        conn.execute(select(func.setval(sequence, after, False)))
