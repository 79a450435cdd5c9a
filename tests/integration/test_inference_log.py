"""The inference log and feedback on both backends, and the API's buffered writer over them.

The writer tests cut its way to the database on purpose: on PostgreSQL through a TCP proxy the
test owns (refused, stalled), on SQLite with another connection holding the write lock (the
database answers nothing but "locked" until it lets go).
"""

from __future__ import annotations

import logging
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from api.metrics import ApiMetrics
from api.writer import InferenceLogWriter
from core.access import Actor, Role
from core.db.engine import make_engine
from core.db.tables import inference_log, prediction_feedback
from core.inference_log import (
    InferenceRecord,
    feedback_accuracy,
    history,
    record_feedback,
    write_records,
)
from core.inference_spool import Spool
from tests.tcp_proxy import TcpProxy

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TIMEOUT = 1.0  # the writer's statement / lock / write deadline in these tests
SECRET = "SECRET-TITLE-TEXT"  # a row's text must never reach the logs
ANA = Actor("u-ana", "oidc", Role.OPERATOR, email="ana@example.com")
OLGA = Actor("u-olga", "oidc", Role.OPERATOR)  # no email: her subject is shown


def record(n: int, code: int = 2583, title: str = "Piscine ronde", minutes: int = 0, **kw: Any):
    values: dict[str, Any] = {
        "request_id": f"req-{n}",
        "at": T0 + timedelta(minutes=minutes),
        "designation": title,
        "description": "<p>bleue</p>",
        "predicted_code": code,
        "probability": 0.9,
        "model_version": 1,
        "latency_ms": 2.5,
        "source": "predict",
    }
    values.update(kw)
    return InferenceRecord(**values)


def test_history_newest_first_with_filters(engine: Engine) -> None:
    write_records(
        engine,
        [
            record(1, minutes=0),
            record(2, 10, "Livre de poche", minutes=5),
            record(3, title="PISCINE carrée", minutes=10),
        ],
    )
    with engine.connect() as conn:
        assert list(history(conn).request_id) == ["req-3", "req-2", "req-1"]
        assert list(history(conn, code=10).request_id) == ["req-2"]
        assert list(history(conn, search="piscine").request_id) == ["req-3", "req-1"]
        assert list(history(conn, search="BLEUE", code=2583, limit=1).request_id) == ["req-3"]
        window = history(conn, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=10))
        assert list(window.request_id) == ["req-2"]
        row = history(conn).iloc[-1]
    assert row["at"] == T0 and row.designation == "Piscine ronde" and row.latency_ms == 2.5
    assert row.true_code is pd.NA and row.feedback_by == ""


def test_feedback_is_replaced_and_gives_the_live_accuracy(engine: Engine) -> None:
    write_records(engine, [record(1), record(2), record(3, code=10)])
    with engine.connect() as conn:
        assert feedback_accuracy(conn).accuracy is None
    record_feedback(engine, "req-1", 2583, ANA)
    record_feedback(engine, "req-2", 10, ANA)
    record_feedback(engine, "req-2", 2583, OLGA)  # another mind: replaces the first mark
    record_feedback(engine, "req-3", 2583, ANA)
    record_feedback(engine, "req-in-flight", 2583, ANA)  # its prediction row is not written yet
    with engine.connect() as conn:
        accuracy = feedback_accuracy(conn)
        marks = history(conn).set_index("request_id")
        recent = feedback_accuracy(conn, since=T0 + timedelta(hours=1))
        people = conn.execute(
            select(prediction_feedback.c.actor, prediction_feedback.c.actor_email).where(
                prediction_feedback.c.request_id == "req-1"
            )
        ).one()
    assert (accuracy.labelled, accuracy.correct) == (3, 2) and accuracy.accuracy == 2 / 3
    assert marks.true_code.to_dict() == {"req-3": 2583, "req-2": 2583, "req-1": 2583}
    assert marks.feedback_by.to_dict() == {
        "req-3": "ana@example.com",
        "req-2": "u-olga",
        "req-1": "ana@example.com",
    }
    assert tuple(people) == ("u-ana", "ana@example.com")
    assert recent.labelled == 0


def test_bad_feedback_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="1234 is not one of the 27 product type codes"):
        record_feedback(engine, "req-1", 1234, ANA)
    with pytest.raises(ValueError, match="request id"):
        record_feedback(engine, " ", 2583, ANA)


def test_a_batch_written_twice_is_logged_once(engine: Engine) -> None:
    # A retried batch whose first commit did land (the answer was lost) must neither fail nor
    # duplicate: request ids are unique and a second write of one is a no-op.
    write_records(engine, [record(1)])
    write_records(engine, [record(2), record(1, title="second write")])
    assert logged(engine) == {"req-1": 1, "req-2": 1}
    with engine.connect() as conn:
        assert history(conn).set_index("request_id").designation["req-1"] == "Piscine ronde"


def test_the_writer_batches_rows_and_flushes_on_stop(engine: Engine, tmp_path: Path) -> None:
    metrics = ApiMetrics()
    writer = InferenceLogWriter(
        engine, metrics, spool=Spool(tmp_path / "spool"), flush_seconds=3600, batch_rows=2
    )
    writer.start()
    writer.submit(record(n) for n in range(5))
    assert sample(metrics, "rakuten_api_inference_log_queue_rows") == 5
    writer.stop()
    assert len(logged(engine)) == 5
    assert sample(metrics, "rakuten_api_inference_log_rows_written_total") == 5
    assert sample(metrics, "rakuten_api_inference_log_write_failures_total") == 0
    assert writer.status().state == "ok" and writer.status().last_write is not None


def test_one_bad_row_costs_only_itself(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL cannot store NUL, no database can encode a lone surrogate, and a NULL title
    # breaks a NOT NULL column: each used to cost the whole batch of other people's rows.
    metrics = ApiMetrics()
    writer = InferenceLogWriter(engine, metrics, spool=Spool(tmp_path / "spool"))
    bad = [
        record(10, title=f"{SECRET} \x00 nul"),
        record(11, description=f"{SECRET} \ud800 surrogate"),
        record(12, designation=None),  # refused by the database itself
    ]
    good = [record(n) for n in range(6)]
    writer.submit([good[0], bad[0], good[1], bad[1], good[2], good[3], bad[2], good[4], good[5]])
    with caplog.at_level(logging.INFO, logger="api.writer"):
        writer.flush()
    assert logged(engine) == {r.request_id: 1 for r in good}
    assert dropped(metrics) == {"unstorable_text": 2, "refused_by_database": 1}
    assert writer.status().dropped == {"unstorable_text": 2, "refused_by_database": 1}
    assert sample(metrics, "rakuten_api_inference_log_rows_written_total") == 6
    assert "req-12" in caplog.text and "refused" in caplog.text
    assert SECRET not in caplog.text and "\x00" not in caplog.text


def test_a_stalled_connection_fails_fast_then_the_rows_land(
    line: Line, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = ApiMetrics()
    writer = line.writer(metrics, tmp_path)
    writer.start()
    writer.submit([record(0)])
    wait_for(lambda: logged(engine) == {"req-0": 1})  # a pooled connection now exists
    with caplog.at_level(logging.INFO, logger="api.writer"):
        line.cut("stall")
        started = time.monotonic()
        writer.submit(record(n) for n in range(1, 4))
        wait_for(lambda: sample(metrics, "rakuten_api_inference_log_write_failures_total") >= 3)
        assert time.monotonic() - started < 4 * TIMEOUT + 2, "the stalled write hung"
        status = writer.status()
        assert status.state in {"retrying", "failing"} and status.failing_since is not None
        assert status.last_error and status.queue_rows == 3
        line.heal()
        wait_for(lambda: len(logged(engine)) == 4)
        wait_for(lambda: writer.status().state == "ok")
    writer.stop()
    assert logged(engine) == {f"req-{n}": 1 for n in range(4)}
    assert sample(metrics, "rakuten_api_inference_log_retries_total") >= 1
    assert "inference log" in caplog.text and "writing again" in caplog.text
    assert dropped(metrics) == {}


def test_a_failed_batch_is_retried_until_the_database_is_back(
    line: Line, engine: Engine, tmp_path: Path
) -> None:
    metrics = ApiMetrics()
    writer = line.writer(metrics, tmp_path)
    line.cut("down")
    writer.start()
    writer.submit(record(n) for n in range(5))
    wait_for(lambda: sample(metrics, "rakuten_api_inference_log_retries_total") >= 2)
    assert logged(engine) == {}
    line.heal()
    wait_for(lambda: len(logged(engine)) == 5)
    writer.stop()
    assert logged(engine) == {f"req-{n}": 1 for n in range(5)} and dropped(metrics) == {}


def test_the_buffer_is_bounded_in_bytes_and_spills_to_a_file_replayed_at_start(
    engine: Engine, tmp_path: Path
) -> None:
    spool = tmp_path / "var" / "spool"
    metrics = ApiMetrics()
    first = InferenceLogWriter(engine, metrics, spool=Spool(spool), max_buffer_bytes=300_000)
    long_text = "é" * 50_000  # 1,000 such rows once took 400 MB of a row-bounded buffer
    first.submit(record(n, description=long_text) for n in range(20))  # not started: no writes
    status = first.status()
    assert 0 < status.queue_bytes <= 300_000 and status.queue_rows < 20
    assert status.spooled_rows == 20 - status.queue_rows and status.spool_bytes > 0
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    files = list(spool.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    first.stop()  # never started: whatever is queued goes to the spool, nothing is dropped
    assert first.status().spooled_rows == 20 and dropped(metrics) == {}

    second = InferenceLogWriter(engine, ApiMetrics(), spool=Spool(spool), flush_seconds=0.05)
    second.start()
    wait_for(lambda: len(logged(engine)) == 20)
    wait_for(lambda: not list(spool.iterdir()))  # deleted once their rows are committed
    second.stop()
    assert logged(engine) == {f"req-{n}": 1 for n in range(20)}
    with engine.connect() as conn:
        assert set(history(conn).description) == {long_text}


def test_stopping_while_the_database_is_down_spills_and_the_next_start_replays(
    line: Line, engine: Engine, tmp_path: Path
) -> None:
    metrics = ApiMetrics()
    writer = line.writer(metrics, tmp_path)
    line.cut("down")
    writer.start()
    writer.submit(record(n) for n in range(10))
    wait_for(lambda: sample(metrics, "rakuten_api_inference_log_write_failures_total") >= 1)
    writer.stop(timeout=3 * TIMEOUT)
    assert writer.status().spooled_rows == 10 and dropped(metrics) == {}
    assert logged(engine) == {}
    writer.submit([record(10)])  # a late prediction after the stop goes to the spool as well
    assert writer.status().spooled_rows == 11

    line.heal()
    again = line.writer(ApiMetrics(), tmp_path)
    again.start()
    wait_for(lambda: len(logged(engine)) == 11)
    again.stop()
    assert logged(engine) == {f"req-{n}": 1 for n in range(11)}
    assert not list((tmp_path / "spool").iterdir())


@pytest.mark.postgres
def test_the_writer_engine_gives_up_on_a_slow_statement(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url, timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="statement timeout"), engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 3 * TIMEOUT
    engine.dispose()


def test_rows_are_dropped_only_when_even_the_spool_cannot_take_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'never-written.db'}")
    metrics = ApiMetrics()
    tiny = Spool(tmp_path / "spool", max_bytes=1_000)  # room for about two rows
    writer = InferenceLogWriter(engine, metrics, spool=tiny, max_buffer_bytes=1_000)
    with caplog.at_level(logging.WARNING, logger="api.writer"):
        writer.submit(record(n, title=f"{SECRET} {n}") for n in range(6))
    status = writer.status()
    assert status.queue_rows + status.spooled_rows + status.dropped["spool_full"] == 6
    assert status.dropped["spool_full"] >= 2 and dropped(metrics) == status.dropped
    assert "spool_full" in caplog.text and SECRET not in caplog.text

    alone = InferenceLogWriter(engine, ApiMetrics(), max_buffer_bytes=1_000)  # no spool at all
    alone.submit(record(n) for n in range(6))
    alone.stop()
    kept = alone.status()
    assert kept.dropped["buffer_full"] + kept.dropped["no_spool"] == 6
    engine.dispose()


# --- the writer's way to the database, and how tests cut it ---------------------------------


class Line:
    """A database URL the writer uses, and ways to cut it: ``down`` or ``stall``, then heal."""

    def __init__(self, database_url: str, proxy: TcpProxy | None) -> None:
        self.proxy = proxy
        self.url = proxy.url(database_url) if proxy else database_url
        self._lock: sqlite3.Connection | None = None
        self._engines: list[Engine] = []

    def writer(self, metrics: ApiMetrics, tmp_path: Path) -> InferenceLogWriter:
        engine = make_engine(self.url, timeout=TIMEOUT)
        self._engines.append(engine)
        return InferenceLogWriter(
            engine,
            metrics,
            spool=Spool(tmp_path / "spool"),
            flush_seconds=0.05,
            write_timeout=TIMEOUT,
            retry_seconds=(0.05, 0.5),
        )

    def cut(self, how: str) -> None:
        if self.proxy is not None:
            self.proxy.set_mode("refuse" if how == "down" else "stall")
            return
        # SQLite: hold the write lock; writers get "database is locked" after their busy timeout
        self._lock = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
        self._lock.execute("BEGIN EXCLUSIVE")

    def heal(self) -> None:
        if self.proxy is not None:
            self.proxy.set_mode("pass")
        elif self._lock is not None:
            self._lock.rollback()
            self._lock.close()
            self._lock = None

    def close(self) -> None:
        self.heal()
        for engine in self._engines:
            engine.dispose()


@pytest.fixture
def line(database_url: str, engine: Engine) -> Iterator[Line]:
    """The way from a writer to ``engine``'s database (schema created), on both backends."""
    if make_url(database_url).get_backend_name() == "sqlite":
        cut = Line(database_url, None)
        yield cut
        cut.close()
        return
    with TcpProxy(make_url(database_url).port or 5432) as proxy:
        cut = Line(database_url, proxy)
        yield cut
        cut.close()


def logged(engine: Engine) -> dict[str, int]:
    """How many times each request id is in the inference log."""
    query = select(inference_log.c.request_id, func.count()).group_by(inference_log.c.request_id)
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def sample(metrics: ApiMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def dropped(metrics: ApiMetrics) -> dict[str, float]:
    name = "rakuten_api_inference_log_dropped_rows_total"
    return {
        s.labels["reason"]: s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == name and s.value
    }


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
