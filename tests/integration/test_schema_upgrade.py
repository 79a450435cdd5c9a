"""A database made before a column was added keeps working: ensure_schema adds the column, on
SQLite and PostgreSQL, and the rows written before it read as "nobody recorded"."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    select,
)

from core.access import Actor, Role
from core.db.engine import _add_column, ensure_schema, make_engine
from core.db.tables import ADDED_COLUMNS, inference_log, prediction_feedback
from core.inference_log import history, record_feedback

ANA = Actor("u-ana", "oidc", Role.OPERATOR, email="ana@example.com")
AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def old_schema(engine: Engine) -> None:
    """``prediction_feedback`` as it shipped before it said who gave the feedback, with a row, and
    ``inference_log`` before it said which alias answered."""
    old = MetaData()
    feedback = Table(
        "prediction_feedback",
        old,
        Column("request_id", String(64), primary_key=True),
        Column("true_code", Integer, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
    )
    # inference_log before canary answers said which alias gave them (served_alias).
    Table(
        "inference_log",
        old,
        *(
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in inference_log.columns
            if c.name != "served_alias"
        ),
    )
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(feedback).values(request_id="req-old", true_code=10, at=AT))


def columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_the_new_columns_are_added_and_old_rows_are_kept(database_url: str) -> None:
    engine = make_engine(database_url)
    old_schema(engine)
    assert "actor" not in columns(engine, "prediction_feedback")

    ensure_schema(engine)
    ensure_schema(engine)  # the next start finds nothing to add
    assert {"actor", "actor_email"} <= columns(engine, "prediction_feedback")
    with engine.begin() as conn:
        for n in ("old", "new"):
            conn.execute(
                insert(inference_log).values(
                    request_id=f"req-{n}",
                    at=AT,
                    designation="Livre",
                    description="",
                    predicted_code=10,
                    probability=0.9,
                    model_version=1,
                    latency_ms=1.0,
                    source="predict",
                )
            )
    record_feedback(engine, "req-new", 2583, ANA)
    with engine.connect() as conn:
        marks = history(conn).set_index("request_id")
        old = conn.execute(
            select(prediction_feedback).where(prediction_feedback.c.request_id == "req-old")
        ).one()
    assert marks.true_code.to_dict() == {"req-new": 2583, "req-old": 10}
    assert marks.feedback_by.to_dict() == {"req-new": "ana@example.com", "req-old": ""}
    assert (old.actor, old.actor_email) == (None, None)
    engine.dispose()


def test_adding_a_column_another_process_just_added_is_not_an_error(database_url: str) -> None:
    # The app and the API may both start on an older database: the second one's ALTER finds the
    # column there (PostgreSQL: IF NOT EXISTS; SQLite: checked after its "duplicate column").
    engine = make_engine(database_url)
    old_schema(engine)
    ensure_schema(engine)
    for column in ADDED_COLUMNS:
        _add_column(engine, column)
    for column in ADDED_COLUMNS:
        assert column.name in columns(engine, column.table.name)
    engine.dispose()


def test_a_fresh_database_has_the_columns_from_the_start(engine: Engine) -> None:
    assert {c.name for c in prediction_feedback.columns} == columns(engine, "prediction_feedback")
