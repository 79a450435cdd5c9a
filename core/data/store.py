"""Putting a validated catalogue into the database: holdout split, load order, bulk insert.

An import is one transaction: it replaces the previous dataset (pool, holdout, loaded products,
history) or, if anything fails, leaves it exactly as it was.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, insert

from core.data.loading import lock_dataset
from core.db.tables import (
    PRODUCT_FIELDS,
    dataset,
    holdout_products,
    load_history,
    loaded_products,
    source_pool,
)


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


def catalogue_digest(productids: pd.Series) -> str:
    """SHA-256 of the sorted product ids: a short name for "exactly this set of products"."""
    ids = np.sort(productids.to_numpy(dtype="int64"))
    return hashlib.sha256(ids.tobytes()).hexdigest()


def import_products(
    engine: Engine,
    frame: pd.DataFrame,
    *,
    source: str,
    holdout_fraction: float,
    seed: int,
    replace: bool = False,
) -> ImportSummary:
    """Replace the dataset with ``frame`` in one transaction.

    Args:
        engine: Target database (schema already created).
        frame: Validated products.
        source: Human-readable origin, e.g. ``"built-in catalogue (84,916 rows, seed 42)"``.
        holdout_fraction: Share of each class kept for evaluation.
        seed: Seed for the holdout and the load order.
        replace: Must be true when a dataset is already imported.

    Returns:
        What was written.

    Raises:
        DatasetExists: A dataset is present and ``replace`` is false.
    """
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
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.copy_expert(
                f"COPY {table.name} ({', '.join(columns)}) FROM STDIN "
                # An unquoted empty CSV field means NULL to COPY; an empty description is "".
                "WITH (FORMAT csv, FORCE_NOT_NULL (designation, description))",
                buffer,
            )
        finally:
            cursor.close()
        return
    conn.execute(insert(table), frame.to_dict("records"))
