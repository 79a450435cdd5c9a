"""The inference log and feedback on both backends, and the API's buffered writer over them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import IntegrityError

from api.metrics import ApiMetrics
from api.writer import InferenceLogWriter
from core.inference_log import (
    InferenceRecord,
    feedback_accuracy,
    history,
    record_feedback,
    write_records,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def record(n: int, code: int = 2583, title: str = "Piscine ronde", minutes: int = 0):
    return InferenceRecord(
        f"req-{n}", T0 + timedelta(minutes=minutes), title, "<p>bleue</p>", code, 0.9, 1, 2.5,
        "predict",
    )  # fmt: skip


def test_history_newest_first_with_filters(engine: Engine) -> None:
    write_records(engine, [
        record(1, minutes=0), record(2, 10, "Livre de poche", minutes=5),
        record(3, title="PISCINE carrée", minutes=10),
    ])  # fmt: skip
    with engine.connect() as conn:
        assert list(history(conn).request_id) == ["req-3", "req-2", "req-1"]
        assert list(history(conn, code=10).request_id) == ["req-2"]
        assert list(history(conn, search="piscine").request_id) == ["req-3", "req-1"]
        assert list(history(conn, search="BLEUE", code=2583, limit=1).request_id) == ["req-3"]
        window = history(conn, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=10))
        assert list(window.request_id) == ["req-2"]
        row = history(conn).iloc[-1]
    assert row["at"] == T0 and row.designation == "Piscine ronde" and row.latency_ms == 2.5
    assert row.true_code is pd.NA


def test_feedback_is_replaced_and_gives_the_live_accuracy(engine: Engine) -> None:
    write_records(engine, [record(1), record(2), record(3, code=10)])
    with engine.connect() as conn:
        assert feedback_accuracy(conn).accuracy is None
    record_feedback(engine, "req-1", 2583)
    record_feedback(engine, "req-2", 10)
    record_feedback(engine, "req-2", 2583)  # changed my mind: replaces the first mark
    record_feedback(engine, "req-3", 2583)
    record_feedback(engine, "req-in-flight", 2583)  # its prediction row is not written yet
    with engine.connect() as conn:
        accuracy = feedback_accuracy(conn)
        marks = history(conn).set_index("request_id").true_code.to_dict()
        recent = feedback_accuracy(conn, since=T0 + timedelta(hours=1))
    assert (accuracy.labelled, accuracy.correct) == (3, 2) and accuracy.accuracy == 2 / 3
    assert marks == {"req-3": 2583, "req-2": 2583, "req-1": 2583}
    assert recent.labelled == 0


def test_bad_feedback_and_duplicate_ids_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="1234 is not one of the 27 product type codes"):
        record_feedback(engine, "req-1", 1234)
    with pytest.raises(ValueError, match="request id"):
        record_feedback(engine, " ", 2583)
    write_records(engine, [record(1)])
    with pytest.raises(IntegrityError):
        write_records(engine, [record(2), record(1)])
    with engine.connect() as conn:
        assert list(history(conn).request_id) == ["req-1"]  # the failed batch left nothing


def test_the_writer_batches_rows_and_flushes_on_stop(engine: Engine) -> None:
    metrics = ApiMetrics()
    writer = InferenceLogWriter(engine, metrics, flush_seconds=3600, batch_size=2)
    writer.start()
    writer.submit(record(n) for n in range(5))
    assert metrics.log_queue._value.get() == 5
    writer.stop()
    with engine.connect() as conn:
        assert len(history(conn)) == 5
    assert metrics.log_written._value.get() == 5 and metrics.log_failures._value.get() == 0


def test_the_writer_counts_failures_and_a_full_buffer_never_grows(tmp_path) -> None:
    metrics = ApiMetrics()
    (tmp_path / "a-file").write_text("")
    broken = create_engine(f"sqlite:///{tmp_path / 'a-file' / 'x.db'}")  # cannot be created
    writer = InferenceLogWriter(broken, metrics, max_buffer=3)
    writer.submit(record(n) for n in range(5))  # two over the bound: dropped and counted
    assert metrics.log_failures._value.get() == 2
    writer.flush()  # the database cannot be opened: the batch is counted, nothing raises
    assert metrics.log_failures._value.get() == 5 and metrics.log_queue._value.get() == 0
