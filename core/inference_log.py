"""The inference log: what the API predicted, and the true categories people marked afterwards.

The API appends records in batches from a background thread (see ``api.writer``); the app reads
the history, records feedback and computes the live accuracy from it. Feedback is keyed by the
prediction's request id and kept in its own table, so it can be written before the buffered
prediction row lands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, Insert, Select, case, delete, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.access.actor import Actor
from core.data.categories import CATEGORY_BY_CODE
from core.db.tables import inference_log, prediction_feedback

if TYPE_CHECKING:  # the API writes the log without pandas (about 90 MiB it need not hold)
    import pandas as pd

HISTORY_COLUMNS = (
    "request_id",
    "at",
    "designation",
    "description",
    "predicted_code",
    "probability",
    "model_version",
    "latency_ms",
    "source",
    "true_code",
    "feedback_by",  # who marked it: their email, else their subject (empty on older marks)
)

_FEEDBACK_ID = prediction_feedback.c.request_id
_SAME_REQUEST = _FEEDBACK_ID == inference_log.c.request_id
_MATCH = inference_log.c.predicted_code == prediction_feedback.c.true_code
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class InferenceRecord:
    """One prediction as the API made it."""

    request_id: str
    at: datetime
    designation: str
    description: str
    predicted_code: int
    probability: float
    model_version: int
    latency_ms: float
    source: str  # predict | batch
    served_alias: str | None = None  # champion, or challenger for a canary answer


@dataclass(frozen=True, slots=True)
class FeedbackAccuracy:
    """How often the served predictions matched the categories people marked."""

    labelled: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        """Share of correct predictions among those with feedback; ``None`` without feedback."""
        return self.correct / self.labelled if self.labelled else None


def write_records(engine: Engine, records: Sequence[InferenceRecord]) -> None:
    """Append predictions in one transaction (multi-row ``INSERT``s), each at most once.

    A request id already in the log is skipped, not an error: a batch retried after a commit
    whose answer was lost (the connection died just then) lands exactly once.
    """
    if not records:
        return
    with engine.begin() as conn:
        fields = InferenceRecord.__slots__  # not asdict(): it deep-copies, ten times slower
        rows = [{f: getattr(r, f) for f in fields} for r in records]
        conn.execute(_insert_once(conn.dialect.name), rows)


def unstorable_text(record: InferenceRecord) -> str | None:
    """Why the record's text cannot be stored on every backend, or ``None`` when it can.

    PostgreSQL refuses NUL characters in text, and no database can encode a lone UTF-16
    surrogate (JSON can carry one as ``"\\ud800"``). The same rule on both backends keeps what
    SQLite and PostgreSQL hold identical.
    """
    for name in ("designation", "description"):
        if _UNSTORABLE.search(getattr(record, name) or ""):
            return f"the {name} contains a NUL character or a lone surrogate"
    return None


def _insert_once(dialect: str) -> Insert:
    insert_ = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING is what makes SQLAlchemy batch the rows into multi-row INSERTs ("insertmanyvalues"):
    # without it, SQLAlchemy 2.1 sends INSERT … ON CONFLICT one row per round trip on psycopg2.
    insert_once = insert_(inference_log).on_conflict_do_nothing(index_elements=["request_id"])
    return insert_once.returning(inference_log.c.id)


def record_feedback(engine: Engine, request_id: str, true_code: int, actor: Actor) -> None:
    """Mark the true category of one prediction; marking again replaces the earlier mark.

    The caller checks the actor's role (``InferenceManager.record_feedback``); this records who.

    Raises:
        ValueError: ``true_code`` is not one of the 27 categories, or ``request_id`` is empty.
    """
    if true_code not in CATEGORY_BY_CODE:
        raise ValueError(f"{true_code} is not one of the 27 product type codes")
    if not request_id.strip():
        raise ValueError("feedback needs the prediction's request id")
    row = {
        "request_id": request_id,
        "true_code": true_code,
        "at": datetime.now(UTC),
        "actor": actor.subject[:200],
        "actor_email": actor.email[:200] if actor.email else None,
    }
    with engine.begin() as conn:
        conn.execute(delete(prediction_feedback).where(_FEEDBACK_ID == request_id))
        conn.execute(insert(prediction_feedback), [row])


def history(
    conn: Connection,
    *,
    code: int | None = None,
    search: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Predictions newest first, with the marked true category (``true_code``) and who marked it
    (``feedback_by``) where there is one.

    Args:
        conn: An open connection.
        code: Only predictions of this category.
        search: Only products whose title or description contains this text (any case).
        since: Only predictions at or after this time.
        until: Only predictions before this time.
        limit: At most this many rows.
    """
    query = _filtered(_joined(), code=code, search=search, since=since, until=until)
    import pandas as pd  # only the app reads the history

    rows = conn.execute(query.order_by(inference_log.c.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["true_code"] = frame["true_code"].astype("Int64")
    frame["feedback_by"] = frame["feedback_by"].fillna("")
    return frame


def prediction_count(conn: Connection, since: datetime | None = None) -> int:
    """How many predictions the log holds (since a time)."""
    query = _filtered(select(func.count()).select_from(inference_log), since=since)
    return int(conn.execute(query).scalar_one())


def is_logged(conn: Connection, request_id: str) -> bool:
    """Whether the prediction ``request_id`` has reached the log (the API writes in batches)."""
    query = select(inference_log.c.id).where(inference_log.c.request_id == request_id)
    return conn.execute(query.limit(1)).first() is not None


def feedback_accuracy(conn: Connection, *, since: datetime | None = None) -> FeedbackAccuracy:
    """Live accuracy over every prediction that has feedback (optionally since a time)."""
    query = select(
        func.count(),
        func.coalesce(func.sum(case((_MATCH, 1), else_=0)), 0),
    ).select_from(inference_log.join(prediction_feedback, _SAME_REQUEST))
    labelled, correct = conn.execute(_filtered(query, since=since)).one()
    return FeedbackAccuracy(int(labelled), int(correct))


def _joined() -> Select:
    marked_by = func.coalesce(prediction_feedback.c.actor_email, prediction_feedback.c.actor)
    return select(
        *(inference_log.c[name] for name in HISTORY_COLUMNS[:-2]),
        prediction_feedback.c.true_code,
        marked_by.label("feedback_by"),
    ).select_from(inference_log.outerjoin(prediction_feedback, _SAME_REQUEST))


def _filtered(
    query: Select,
    *,
    code: int | None = None,
    search: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select:
    if code is not None:
        query = query.where(inference_log.c.predicted_code == code)
    if search.strip():
        pattern = f"%{search.strip()}%"
        text = inference_log.c
        query = query.where(or_(text.designation.ilike(pattern), text.description.ilike(pattern)))
    if since is not None:
        query = query.where(inference_log.c.at >= since)
    if until is not None:
        query = query.where(inference_log.c.at < until)
    return query
