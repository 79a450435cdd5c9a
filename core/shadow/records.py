"""The other model's prediction of a logged request, as the API writes it (``shadow_predictions``).

While the champion answers, the API scores a share of the requests with the challenger off the
request path and writes what it would have answered here, keyed by the request id of the
``inference_log`` row it sits beside (:mod:`core.shadow.compare` reads the two together). These
rows are evidence, not the record of what was answered: they are written on a best effort, and a
batch the database refuses is dropped rather than retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.db.tables import shadow_predictions


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    """What the model that did not answer predicted for one logged request."""

    request_id: str  # the inference_log row's
    at: datetime  # when it was scored
    model_version: int
    alias: str  # of the model that scored it: core.registry's CHALLENGER in shadow
    predicted_code: int
    probability: float
    latency_ms: float  # its own scoring time, not the request's


def write_shadow_records(engine: Engine, records: Sequence[ShadowRecord]) -> None:
    """Append shadow predictions in one transaction, each at most once.

    A request id already written is skipped, not an error: a batch whose commit landed although
    its answer was lost, then written again, lands exactly once.
    """
    if not records:
        return
    fields = ShadowRecord.__slots__
    rows = [{f: getattr(r, f) for f in fields} for r in records]
    with engine.begin() as conn:
        conn.execute(_insert_once(conn.dialect.name), rows)


def _insert_once(dialect: str) -> Insert:
    insert_ = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING makes SQLAlchemy send multi-row INSERTs (as core.inference_log._insert_once).
    insert_once = insert_(shadow_predictions).on_conflict_do_nothing(index_elements=["request_id"])
    return insert_once.returning(shadow_predictions.c.request_id)
