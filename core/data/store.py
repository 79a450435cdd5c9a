"""Putting a validated catalogue into the database: holdout split, load order, bulk insert.

An import is one transaction: it replaces the previous dataset (pool, holdout, loaded products,
history) or, if anything fails, leaves it exactly as it was.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, insert
from sqlalchemy.exc import DBAPIError

from core.access import Action, Actor, audited, checks
from core.access.audit_store import SqlAuditLog
from core.data.categories import CATEGORY_BY_CODE
from core.data.importer import DataValidationError
from core.data.loading import lock_dataset
from core.db.tables import (
    PRODUCT_FIELDS,
    dataset,
    holdout_products,
    load_history,
    loaded_products,
    source_pool,
)

log = logging.getLogger(__name__)


class DatasetExists(RuntimeError):
    """An import would replace a dataset that the caller did not agree to replace."""


@dataclass(frozen=True, slots=True)
class SplitFrames:
    """The loadable pool (with ``class_rank``/``class_size``) and the fixed holdout."""

    pool: pd.DataFrame
    holdout: pd.DataFrame


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import wrote."""

    source: str
    pool_rows: int
    holdout_rows: int
    digest: str
    replaced: bool


def split_holdout(frame: pd.DataFrame, holdout_fraction: float, seed: int) -> SplitFrames:
    """Set aside a stratified holdout and give every pool row its rank inside its class.

    The result depends only on the set of products and the seed, not on file order: rows are
    sorted by ``productid`` before the seeded shuffle. Each class keeps ``round(fraction * n)``
    rows for the holdout (at least one when it has two or more), and the pool rows of a class are
    ranked ``0 .. class_size - 1`` in a random order, so "the first p % of the pool" is the set of
    rows with ``class_rank < ceil(p * class_size)``: stratified to within one row per class.

    Args:
        frame: Validated products (see :func:`core.data.importer.validate_products`).
        holdout_fraction: Share of each class set aside, in (0, 0.5).
        seed: Seed of the shuffle.

    Returns:
        The pool and holdout frames.
    """
    ordered = frame.sort_values("productid", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    ordered["_key"] = rng.random(len(ordered))
    ordered = ordered.sort_values(["prdtypecode", "_key"], kind="stable")
    rank = ordered.groupby("prdtypecode").cumcount()
    size = ordered.groupby("prdtypecode")["productid"].transform("size")
    held = np.where(size >= 2, np.maximum(1, np.round(size * holdout_fraction)), 0).astype(int)
    is_holdout = rank < held
    holdout = ordered.loc[is_holdout, list(PRODUCT_FIELDS)].reset_index(drop=True)
    pool = ordered.loc[~is_holdout, list(PRODUCT_FIELDS)].copy()
    pool["class_rank"] = (rank - held)[~is_holdout].to_numpy()
    pool["class_size"] = (size - held)[~is_holdout].to_numpy()
    return SplitFrames(pool=pool.reset_index(drop=True), holdout=holdout)


def holdout_minimum(holdout_fraction: float) -> int:
    """The fewest products a category needs so that the holdout fraction keeps one of them.

    :func:`split_holdout` keeps ``round(fraction * n)`` rows (NumPy rounds half to even), so a
    category needs ``fraction * n > 0.5``; and at least two, one held out and one to train on.

    Args:
        holdout_fraction: Share of each class set aside, in (0, 0.5).

    Returns:
        The minimum number of products per category (4 for the default 15 %).
    """
    needed = max(2, int(0.5 / holdout_fraction) + 1)
    while needed > 2 and np.round((needed - 1) * holdout_fraction) >= 1:  # float rounding
        needed -= 1
    while np.round(needed * holdout_fraction) < 1:
        needed += 1
    return needed


def check_holdout_size(frame: pd.DataFrame, holdout_fraction: float, source: str) -> None:
    """Refuse a catalogue too small for a stratified holdout, naming the category that is short.

    Every category needs :func:`holdout_minimum` products, so that it is both evaluated and
    trained on; and a classifier needs at least two categories.

    Args:
        frame: Validated products.
        holdout_fraction: Share of each class set aside.
        source: Name of the catalogue, used in the message.

    Raises:
        DataValidationError: A category has too few products, or there is only one category.
    """
    counts = frame["prdtypecode"].value_counts().sort_index()
    needed = holdout_minimum(holdout_fraction)
    short = counts[counts < needed].sort_values(kind="stable")
    if not short.empty:
        others = len(short) - 1
        plural = "category has" if others == 1 else "categories have"
        and_more = f" ({others} other {plural} fewer than {needed} too)" if others else ""
        raise DataValidationError(
            source,
            f"category {_label(int(short.index[0]))} has {short.iloc[0]} "
            f"product{'s' if short.iloc[0] > 1 else ''}; a "
            f"{holdout_fraction * 100:g} % holdout needs at least {needed} per category{and_more}: "
            "add products of that category, or leave it out of the file",
        )
    if len(counts) == 1:
        raise DataValidationError(
            source,
            f"every product is in category {_label(int(counts.index[0]))}: a classifier needs "
            "products of at least two categories",
        )


def _label(code: int) -> str:
    category = CATEGORY_BY_CODE.get(code)
    return category.label if category else str(code)


def catalogue_digest(productids: pd.Series) -> str:
    """SHA-256 of the sorted product ids: a short name for "exactly this set of products"."""
    ids = np.sort(productids.to_numpy(dtype="int64"))
    return hashlib.sha256(ids.tobytes()).hexdigest()


@checks(Action.IMPORT_DATA, Action.REPLACE_DATA)
def import_products(
    engine: Engine,
    frame: pd.DataFrame,
    *,
    source: str,
    holdout_fraction: float,
    seed: int,
    actor: Actor,
    replace: bool = False,
) -> ImportSummary:
    """Replace the dataset with ``frame`` in one transaction.

    Args:
        engine: Target database (schema already created).
        frame: Validated products.
        source: Human-readable origin, e.g. ``"built-in catalogue (84,916 rows, seed 42)"``.
        holdout_fraction: Share of each class kept for evaluation.
        seed: Seed for the holdout and the load order.
        actor: Who imports; named in the log (the dataset table has no column for it yet).
        replace: Must be true when a dataset is already imported.

    Returns:
        What was written.

    Raises:
        DatasetExists: A dataset is present and ``replace`` is false.
        DataValidationError: The catalogue is too small for a stratified holdout.
        PermissionDenied: ``actor`` may not import (or, with ``replace``, replace) the data.
    """
    action = import_action(replace)
    params = {"source": source, "rows": len(frame), "replace": replace}
    with audited(SqlAuditLog(engine), actor, action, target="dataset", params=params):
        return _import(engine, frame, source, holdout_fraction, seed, actor, replace)


def import_action(replace: bool) -> Action:
    """The action an import is: replacing the data needs more than importing into an empty one."""
    return Action.REPLACE_DATA if replace else Action.IMPORT_DATA


def _import(
    engine: Engine,
    frame: pd.DataFrame,
    source: str,
    holdout_fraction: float,
    seed: int,
    actor: Actor,
    replace: bool,
) -> ImportSummary:
    check_holdout_size(frame, holdout_fraction, source)
    split = split_holdout(frame, holdout_fraction, seed)
    digest = catalogue_digest(frame["productid"])
    with engine.begin() as conn:
        # Same lock as the loads: an import never interleaves with a load or another import.
        existing = lock_dataset(conn)
        if existing and not replace:
            raise DatasetExists(
                "a dataset is already imported; replacing it resets loading and its history"
            )
        for table in (loaded_products, load_history, source_pool, holdout_products, dataset):
            conn.execute(delete(table))
        _bulk_insert(conn, source_pool, split.pool)
        _bulk_insert(conn, holdout_products, split.holdout)
        conn.execute(
            insert(dataset).values(
                id=1,
                source=source[:200],
                imported_at=datetime.now(UTC),
                pool_rows=len(split.pool),
                holdout_rows=len(split.holdout),
                seed=seed,
                digest=digest,
                revision=1,
            )
        )
    log.info("%s imported %s (%d products)", actor.label, source, len(frame))
    return ImportSummary(source, len(split.pool), len(split.holdout), digest, existing)


def _bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    if frame.empty:
        return  # an empty executemany would insert one row of defaults
    columns = list(frame.columns)
    if conn.dialect.name == "postgresql":
        # COPY is an order of magnitude faster than multi-row INSERTs for ~100k text rows.
        buffer = io.StringIO()
        # Quote every text field: COPY reads a bare carriage return as the end of a row.
        frame.to_csv(buffer, index=False, header=False, quoting=csv.QUOTE_NONNUMERIC)
        buffer.seek(0)
        statement = (
            f"COPY {table.name} ({', '.join(columns)}) FROM STDIN "
            # An unquoted empty CSV field means NULL to COPY; an empty description is "".
            "WITH (FORMAT csv, FORCE_NOT_NULL (designation, description))"
        )
        _copy(conn, statement, buffer)
        return
    conn.execute(insert(table), frame.to_dict("records"))


def _copy(conn: Connection, statement: str, buffer: io.StringIO) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(statement, buffer)
    except conn.dialect.loaded_dbapi.Error as exc:
        # SQLAlchemy never saw this call: tell it what the driver said, so that a lost connection
        # is discarded rather than pooled (and its rollback not tried), and the error is the same
        # as any statement's.
        lost = conn.dialect.is_disconnect(exc, dbapi_connection, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            statement, None, exc, conn.dialect.loaded_dbapi.Error, connection_invalidated=lost
        ) from exc
    finally:
        if not cursor.closed and not dbapi_connection.closed:  # type: ignore[union-attr]
            cursor.close()
