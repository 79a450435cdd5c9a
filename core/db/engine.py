"""Engine construction with the per-backend settings that make both behave the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from core.db.tables import metadata

SQLITE_BUSY_TIMEOUT_S = 30


def make_engine(url: str) -> Engine:
    """Build an engine for ``url`` (no connection is opened yet).

    SQLite gets WAL (readers never wait for the loader), a busy timeout (a second writer waits
    for the first instead of failing) and connections usable from Streamlit's script threads.
    PostgreSQL gets a short connect timeout so an outage is reported in seconds, not minutes.

    Args:
        url: SQLAlchemy database URL.

    Returns:
        The engine.
    """
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
    elif parsed.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": 3}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Any) -> None:
    # SQLAlchemy's recipe for pysqlite: the driver's own transaction handling starts a
    # transaction only at the first write, so reads would see different moments. Here every
    # transaction begins explicitly; writers still take the write lock with their first
    # statement (see core.data.loading.lock_dataset).
    conn.exec_driver_sql("BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def ensure_schema(engine: Engine) -> None:
    """Create the SQLite folder if needed and every missing table (existing ones are kept)."""
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    metadata.create_all(engine)


def describe(engine: Engine) -> str:
    """The engine's URL with any password hidden, for messages shown to people."""
    return engine.url.render_as_string(hide_password=True)
