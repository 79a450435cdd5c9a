"""Drift checks are stored as a row plus an HTML report, on both backends, never half-written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

from core.drift_store import DriftRun, DriftSummary, drift_runs_frame, save_drift_run

SUMMARY = DriftSummary(
    0.44, ("predicted_code", "designation"), {"predicted_code": 0.47, "designation": 0.73},
    0.3, 5_000, 2_000,
)  # fmt: skip
WINDOW = (datetime(2026, 11, 26, 9, tzinfo=UTC), datetime(2026, 11, 27, 9, tzinfo=UTC))


def test_a_run_is_a_row_and_a_report(engine: Engine, tmp_path: Path) -> None:
    reports = tmp_path / "drift"
    run = DriftRun(SUMMARY, *WINDOW, champion_version=3, triggered_by="test")
    first = save_drift_run(engine, reports, run, "<html>first</html>")
    second = save_drift_run(engine, reports, run, "<html>second</html>")
    assert second > first
    with engine.connect() as conn:
        runs = drift_runs_frame(conn)
    assert list(runs.id) == [second, first]
    latest = runs.iloc[0]
    assert latest.verdict == "drift" and latest.drift_share == 0.44 and latest.threshold == 0.3
    assert latest.drifted_columns == "predicted_code,designation"
    assert latest.window_start == WINDOW[0] and latest.champion_version == 3
    assert (reports / latest.report_file).read_text() == "<html>second</html>"
    assert sorted(p.name for p in reports.iterdir()) == sorted(runs.report_file)  # no .part


def test_a_row_that_cannot_be_written_leaves_no_report(tmp_path: Path) -> None:
    no_schema = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    reports = tmp_path / "reports"
    run = DriftRun(SUMMARY, None, None, champion_version=None, triggered_by="test")
    with pytest.raises(OperationalError):
        save_drift_run(no_schema, reports, run, "<html></html>")
    assert list(reports.iterdir()) == []
