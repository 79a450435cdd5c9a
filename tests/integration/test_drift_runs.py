"""Drift checks are stored as a row plus an HTML report, on both backends, never half-written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

from core.access import Actor
from core.drift_store import DriftRun, DriftSummary, drift_checks, save_drift_run

SUMMARY = DriftSummary(
    drift_share=0.44,
    drifted_columns=("predicted_code", "designation"),
    scores={"predicted_code": 0.47, "designation": 0.73},
    threshold=0.3,
    reference_rows=5_000,
    current_rows=2_000,
)
SCHEDULE = Actor.schedule("monitor")
WINDOW = (datetime(2026, 11, 26, 9, tzinfo=UTC), datetime(2026, 11, 27, 9, tzinfo=UTC))


def test_a_run_is_a_row_and_a_report(engine: Engine, tmp_path: Path) -> None:
    reports = tmp_path / "drift"
    run = DriftRun(SUMMARY, *WINDOW, champion_version=3, actor=SCHEDULE)
    first = save_drift_run(engine, reports, run, "<html>first</html>")
    second = save_drift_run(engine, reports, run, "<html>second</html>")
    assert second > first
    with engine.connect() as conn:
        checks = drift_checks(conn)
    assert [check.id for check in checks] == [second, first]
    latest = checks[0]
    assert latest.verdict == "drift" and latest.drift_share == 0.44 and latest.threshold == 0.3
    assert latest.drifted and latest.drifted_columns == ("predicted_code", "designation")
    assert latest.window_start == WINDOW[0] and latest.champion_version == 3
    assert latest.at.tzinfo is not None and latest.decision == ""
    assert latest.triggered_by == "monitor (schedule)"
    assert (reports / latest.report_file).read_text() == "<html>second</html>"
    # No .part file is left behind.
    assert sorted(p.name for p in reports.iterdir()) == sorted(c.report_file for c in checks)


def test_a_row_that_cannot_be_written_leaves_no_report(tmp_path: Path) -> None:
    no_schema = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    reports = tmp_path / "reports"
    run = DriftRun(SUMMARY, None, None, champion_version=None, actor=SCHEDULE)
    with pytest.raises(OperationalError):
        save_drift_run(no_schema, reports, run, "<html></html>")
    assert list(reports.iterdir()) == []
