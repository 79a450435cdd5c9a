"""The drift check's two sides, read from the database: what the champion learnt from, and a
window of what it has been asked since (the inference log)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from core import inference_log
from core.db.tables import loaded_products
from core.drift import compute_drift, drift_frame
from core.drift_store import DriftSummary
from core.train import INPUT_COLUMNS

REFERENCE_ROWS = 5_000
WINDOW_ROWS = 20_000


def reference_products(
    conn: Connection, data_rows: int | None, size: int = REFERENCE_ROWS, seed: int = 0
) -> pd.DataFrame:
    """A sample of the products the champion was trained on.

    Loads only ever add products, so the champion saw the first ``data_rows`` products in load
    order (``None``: all loaded products). After a reset, what is loaded now stands in for it.
    """
    table = loaded_products
    query = select(table.c.designation, table.c.description, table.c.prdtypecode).order_by(
        table.c.load_id, table.c.productid
    )
    if data_rows is not None:
        query = query.limit(data_rows)
    products = pd.DataFrame(
        conn.execute(query).all(), columns=["designation", "description", "prdtypecode"]
    )
    if len(products) > size:
        products = products.sample(size, random_state=seed).reset_index(drop=True)
    return products


def current_window(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = WINDOW_ROWS,
) -> pd.DataFrame:
    """The newest predictions of the inference log in ``[since, until)``, at most ``limit``."""
    return inference_log.history(conn, since=since, until=until, limit=limit)


def check_drift(
    pipeline: Any, reference: pd.DataFrame, window: pd.DataFrame, threshold: float
) -> tuple[DriftSummary, str]:
    """Drift of ``window`` (inference log rows) against ``reference`` (training products).

    The reference's predicted class is its true label, and its confidence is the champion's own
    on it (``pipeline``), so both sides carry the same columns.
    """
    confidence = np.asarray(pipeline.predict_proba(reference[list(INPUT_COLUMNS)])).max(axis=1)
    before = drift_frame(
        reference.designation,
        reference.description,
        reference.prdtypecode,
        pd.Series(confidence),
    )
    now = drift_frame(
        window.designation, window.description, window.predicted_code, window.probability
    )
    return compute_drift(before, now, threshold)
