"""Engine construction with the per-backend settings that make both behave the same."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateColumn

from core.db.tables import ADDED_COLUMNS, metadata

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
# The longest the app, the CLI and the flows wait for one answer of PostgreSQL. Their longest
# statements (the COPY of a full catalogue, the 40 % initial load, a load waiting for an import's
# lock) take about a second; an answer later than this means the server or the route is gone.
ANSWER_TIMEOUT_S = 20.0
ANSWER_GRACE_S = 2.0  # past a statement_timeout, the server's own cancel should have come back


def make_engine(
    url: str, *, timeout: float | None = None, answer_timeout: float | None = None
) -> Engine:
    """Build an engine for ``url`` (no connection is opened yet).

    SQLite gets WAL (readers never wait for the loader), a busy timeout (a second writer waits
    for the first instead of failing) and connections usable from Streamlit's script threads.
    PostgreSQL gets a short connect timeout so an outage is reported in seconds, not minutes;
    TCP keepalives plus a TCP user timeout, so a connection whose peer vanished fails instead of
    waiting forever; and a deadline on every answer (:mod:`core.db.answer_deadline`) for a peer
    that is still there but no longer answers (a stalled route or server).

    Args:
        url: SQLAlchemy database URL.
        timeout: Seconds after which a statement or a lock wait gives up (PostgreSQL's
            ``statement_timeout``, SQLite's busy timeout); ``None`` keeps the defaults (no
            statement timeout, 30 s busy timeout). The API's inference-log writer sets it: a
            write that cannot finish soon is better retried than waited for.
        answer_timeout: PostgreSQL (psycopg2) only: seconds a connection waits for any one
            answer of the server (a statement, a lock wait, a commit) before it is shut down and
            the call fails as a lost connection. Default: ``timeout`` plus
            :data:`ANSWER_GRACE_S`, or :data:`ANSWER_TIMEOUT_S` without a ``timeout``.

    Returns:
        The engine.
    """
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        busy = SQLITE_BUSY_TIMEOUT_S if timeout is None else timeout
        connect_args = {"check_same_thread": False, "timeout": busy}
    elif parsed.get_backend_name() == "postgresql":
        connect_args = _postgresql_args(timeout)
        if parsed.get_driver_name() == "psycopg2":
            if answer_timeout is None:
                answer_timeout = ANSWER_TIMEOUT_S if timeout is None else timeout + ANSWER_GRACE_S
            # Imported here: an SQLite-only installation never loads the PostgreSQL driver.
            from core.db.answer_deadline import connection_factory

            connect_args["connection_factory"] = connection_factory(answer_timeout)
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _postgresql_args(timeout: float | None) -> dict[str, Any]:
    # libpq counts connect_timeout in whole seconds and treats less than 2 as 2.
    args: dict[str, Any] = {
        "connect_timeout": 3 if timeout is None else max(2, math.ceil(timeout)),
        # Probe an idle connection after 10 s, every 5 s, give up after 3 missed probes; and
        # drop a connection whose sent data stays unacknowledged (a dead route) after 30 s.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000 if timeout is None else max(1_000, round(timeout * 1000)),
    }
    if timeout is not None:
        args["options"] = f"-c statement_timeout={max(1, round(timeout * 1000))}"
    return args


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
    """Create the SQLite folder if needed, every missing table (existing ones are kept) and the
    columns added since an existing table was made (:data:`core.db.tables.ADDED_COLUMNS`)."""
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    metadata.create_all(engine)
    for column in _missing(engine, ADDED_COLUMNS):
        _add_column(engine, column)


def _missing(engine: Engine, columns: Sequence[Column]) -> list[Column]:
    # create_all never alters an existing table: a database made before a column was added to
    # its table gets it here. A fresh inspector each time: its answers are cached.
    inspector = inspect(engine)
    present = {name: {c["name"] for c in inspector.get_columns(name)} for name in _tables(columns)}
    return [c for c in columns if c.name not in present[c.table.name]]


def _add_column(engine: Engine, column: Column) -> None:
    # Additive and nullable only: older rows simply have no value. Two processes may start on an
    # old database at once (the app and the API): PostgreSQL's IF NOT EXISTS lets both pass;
    # SQLite has no such clause, so the loser of that race checks that the column is there now.
    table = engine.dialect.identifier_preparer.format_table(column.table)
    definition = CreateColumn(column).compile(dialect=engine.dialect)
    if_absent = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {if_absent}{definition}")
    except OperationalError:
        if _missing(engine, [column]):
            raise
        return
    log.info("added the column %s.%s to an older database", column.table.name, column.name)


def _tables(columns: Sequence[Column]) -> list[str]:
    return list(dict.fromkeys(c.table.name for c in columns))


def describe(engine: Engine) -> str:
    """The engine's URL with any password hidden, for messages shown to people."""
    return engine.url.render_as_string(hide_password=True)
