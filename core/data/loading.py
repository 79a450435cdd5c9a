"""Incremental loading: Initialize (stratified 40 %), Load next batch (+3 %) until 100 %, Reset.

Shares are integer basis points (1 % = 100 bp) so "100 %" is exact. Every load is one
transaction that starts by bumping ``dataset.revision``: that write takes the database's write
lock (a row lock on PostgreSQL, the RESERVED lock on SQLite), so concurrent loads run one after
the other and each sees what the previous one committed. Loading the pool up to a share is a pure
function of that share, which makes every load idempotent: asking again for a share already
reached loads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, func, insert, literal, select, text, update

from core.access import Action, Actor, audited, checks
from core.access.audit_store import SqlAuditLog
from core.db.tables import PRODUCT_FIELDS, dataset, load_history, loaded_products, source_pool

FULL_BP = 10_000


class LoadRefused(RuntimeError):
    """A load that cannot happen now (nothing imported, not initialized, already at 100 %)."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The outcome of one initialize / next batch / reset."""

    action: str
    rows: int
    cumulative_rows: int
    pool_rows: int
    target_bp: int
    load_id: int | None
    message: str

    @property
    def share(self) -> float:
        """Loaded share of the pool, 0..1."""
        return self.cumulative_rows / self.pool_rows if self.pool_rows else 0.0


@checks(Action.INITIALIZE)
def initialize(engine: Engine, target_bp: int, actor: Actor) -> LoadResult:
    """Load the first ``target_bp`` of the pool; a no-op when that share is already loaded.

    Args:
        engine: Database with an imported dataset.
        target_bp: Initial share in basis points (4,000 = 40 %).
        actor: Who asked; their label goes into the load history.

    Returns:
        The load, or a no-op result saying the data is already initialized.

    Raises:
        LoadRefused: No dataset is imported.
        PermissionDenied: ``actor`` may not initialize (nothing is loaded).
    """
    params = {"target_bp": target_bp}
    with (
        audited(SqlAuditLog(engine), actor, Action.INITIALIZE, target="dataset", params=params),
        engine.begin() as conn,
    ):
        pool_rows, current_bp = _lock(conn)
        if current_bp >= target_bp:
            return _unchanged(conn, "initialize", pool_rows, current_bp, "Already initialized")
        return _load(conn, "initialize", current_bp, min(target_bp, FULL_BP), pool_rows, actor)


@checks(Action.LOAD_NEXT_BATCH)
def load_next_batch(
    engine: Engine, batch_bp: int, actor: Actor, expected_bp: int | None = None
) -> LoadResult:
    """Add the next stratified ``batch_bp`` of the pool, stopping exactly at 100 %.

    Args:
        engine: Database with an imported, initialized dataset.
        batch_bp: Batch size in basis points (300 = 3 %).
        actor: Who asked; their label goes into the load history.
        expected_bp: The stage the caller saw before asking; when the data has already moved
            past it (a double click, two browser tabs), nothing more is loaded.

    Returns:
        The load, or a no-op result when ``expected_bp`` is stale.

    Raises:
        LoadRefused: Nothing imported, not initialized, or already at 100 %.
        PermissionDenied: ``actor`` may not load (nothing is loaded).
    """
    params = {"batch_bp": batch_bp, "expected_bp": expected_bp}
    audit = SqlAuditLog(engine)
    with (
        audited(audit, actor, Action.LOAD_NEXT_BATCH, target="dataset", params=params),
        engine.begin() as conn,
    ):
        pool_rows, current_bp = _lock(conn)
        if current_bp == 0:
            raise LoadRefused("Nothing is loaded yet: Initialize first.")
        if expected_bp is not None and current_bp != expected_bp:
            why = f"Nothing loaded, the data moved on from {expected_bp / 100:g} % meanwhile"
            return _unchanged(conn, "next_batch", pool_rows, current_bp, why)
        if current_bp >= FULL_BP:
            raise LoadRefused(f"All {pool_rows:,} products are loaded (100 %): nothing to add.")
        target_bp = min(current_bp + batch_bp, FULL_BP)
        return _load(conn, "next_batch", current_bp, target_bp, pool_rows, actor)


@checks(Action.RESET)
def reset(engine: Engine, actor: Actor) -> LoadResult:
    """Unload every product; the pool, the holdout and the history are kept.

    Args:
        engine: Database with an imported dataset.
        actor: Who asked; their label goes into the load history.

    Returns:
        The reset, or a no-op result when nothing is loaded.

    Raises:
        LoadRefused: No dataset is imported.
        PermissionDenied: ``actor`` may not reset (nothing is unloaded).
    """
    with (
        audited(SqlAuditLog(engine), actor, Action.RESET, target="dataset"),
        engine.begin() as conn,
    ):
        pool_rows, current_bp = _lock(conn)
        if current_bp == 0:
            return LoadResult(
                "reset", 0, 0, pool_rows, 0, None, "Nothing to reset: no products are loaded."
            )
        removed = conn.execute(delete(loaded_products)).rowcount
        load_id = _record(conn, "reset", -removed, 0, 0, actor)
    return LoadResult(
        "reset", -removed, 0, pool_rows, 0, load_id, f"Reset: {removed:,} products unloaded."
    )


def current_stage_bp(conn: Connection) -> int:
    """The share reached by the latest load, in basis points (0 before any load or after reset)."""
    latest = conn.execute(
        select(load_history.c.target_bp).order_by(load_history.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    return latest or 0


def lock_dataset(conn: Connection) -> bool:
    """Take the dataset's write lock for this transaction; True when a dataset is imported.

    Every writer (import, load, reset) calls this first, so they run one after the other on
    both backends. On PostgreSQL the table lock also covers the moment before any dataset row
    exists; on SQLite the UPDATE takes the database's write lock, and it must be the
    transaction's first statement: a transaction that reads first can be refused the lock
    instead of waiting for it.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE dataset IN EXCLUSIVE MODE"))
    bumped = conn.execute(update(dataset).values(revision=dataset.c.revision + 1))
    return bumped.rowcount > 0


def _lock(conn: Connection) -> tuple[int, int]:
    if not lock_dataset(conn):
        raise LoadRefused("No dataset is imported yet: import one on the Dataset page first.")
    pool_rows = conn.execute(select(dataset.c.pool_rows)).scalar_one()
    return pool_rows, current_stage_bp(conn)


def _count_loaded(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(loaded_products)).scalar_one()


def _unchanged(
    conn: Connection, action: str, pool_rows: int, stage_bp: int, why: str
) -> LoadResult:
    loaded = _count_loaded(conn)
    message = f"{why}: {loaded:,} of {pool_rows:,} products loaded ({stage_bp / 100:g} % stage)."
    return LoadResult(action, 0, loaded, pool_rows, stage_bp, None, message)


def _load(
    conn: Connection, action: str, from_bp: int, to_bp: int, pool_rows: int, actor: Actor
) -> LoadResult:
    before = _count_loaded(conn)
    load_id = _record(conn, action, 0, before, to_bp, actor)
    rank_scaled = source_pool.c.class_rank * FULL_BP
    # Row r of a class of n is in the first p of the pool iff r < ceil(p * n): r * 1e4 < bp * n.
    batch = select(
        *(source_pool.c[name] for name in PRODUCT_FIELDS), literal(load_id).label("load_id")
    ).where(
        rank_scaled >= from_bp * source_pool.c.class_size,
        rank_scaled < to_bp * source_pool.c.class_size,
    )
    added = conn.execute(
        insert(loaded_products).from_select([*PRODUCT_FIELDS, "load_id"], batch)
    ).rowcount
    _finish(conn, load_id, added, before + added)
    total = before + added
    message = f"Loaded {added:,} products: {total:,} of {pool_rows:,} ({to_bp / 100:g} % stage)."
    return LoadResult(action, added, total, pool_rows, to_bp, load_id, message)


def _record(
    conn: Connection, action: str, rows: int, cumulative: int, target_bp: int, actor: Actor
) -> int:
    return conn.execute(
        insert(load_history)
        .values(
            loaded_at=datetime.now(UTC),
            action=action,
            rows=rows,
            cumulative_rows=cumulative,
            target_bp=target_bp,
            triggered_by=actor.label,  # at most 100 characters, the column's width
        )
        .returning(load_history.c.id)
    ).scalar_one()


def _finish(conn: Connection, load_id: int, rows: int, cumulative: int) -> None:
    conn.execute(
        update(load_history)
        .where(load_history.c.id == load_id)
        .values(rows=rows, cumulative_rows=cumulative)
    )
