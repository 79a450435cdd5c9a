"""Drift checks as stored: a summary row in ``drift_runs`` and the Evidently report as a file.

Kept apart from :mod:`core.drift` so that reading the history needs no Evidently import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from core.db.tables import drift_runs

MIN_ROWS = 30  # fewer predictions than this say nothing about a distribution


@dataclass(frozen=True)
class DriftSummary:
    """What one drift check found."""

    drift_share: float  # share of the columns that drifted
    drifted_columns: tuple[str, ...]
    scores: dict[str, float]  # column → test statistic (drift when ≥ its column threshold)
    threshold: float  # the drift share above which the verdict is "drift"
    reference_rows: int
    current_rows: int

    @property
    def drifted(self) -> bool:
        """Whether the drift share passes the threshold."""
        return self.drift_share > self.threshold

    @property
    def verdict(self) -> str:
        """``"drift"`` or ``"no drift"``."""
        return "drift" if self.drifted else "no drift"


@dataclass(frozen=True, slots=True)
class DriftRun:
    """Where and when a check ran, besides what it found."""

    summary: DriftSummary
    window_start: datetime | None
    window_end: datetime | None
    champion_version: int | None
    triggered_by: str


def save_drift_run(engine: Engine, reports: Path, run: DriftRun, html: str) -> int:
    """Store the report under ``reports`` and its summary row; returns the row's id.

    The file is written first (to a temporary name, then renamed) and removed again if the row
    cannot be written, so a failure leaves neither a row without a report nor a stray report.
    """
    reports.mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC)
    name = f"drift-{at:%Y%m%d-%H%M%S-%f}.html"
    partial = reports / f".{name}.part"
    partial.write_text(html, encoding="utf-8")
    partial.replace(reports / name)
    summary = run.summary
    row = {
        "at": at, "window_start": run.window_start, "window_end": run.window_end,
        "reference_rows": summary.reference_rows, "current_rows": summary.current_rows,
        "drift_share": summary.drift_share, "threshold": summary.threshold,
        "verdict": summary.verdict, "drifted_columns": ",".join(summary.drifted_columns),
        "champion_version": run.champion_version, "report_file": name,
        "triggered_by": run.triggered_by, "decision": "",
    }  # fmt: skip
    try:
        with engine.begin() as conn:
            return int(
                conn.execute(insert(drift_runs).returning(drift_runs.c.id), [row]).scalar_one()
            )
    except Exception:
        (reports / name).unlink(missing_ok=True)
        raise


def record_decision(engine: Engine, run_id: int, decision: str) -> None:
    """Write what was decided about a drift check (retrained, promoted or not, nothing)."""
    with engine.begin() as conn:
        conn.execute(update(drift_runs).where(drift_runs.c.id == run_id).values(decision=decision))


def drift_runs_frame(conn: Connection, limit: int = 200) -> pd.DataFrame:
    """Drift checks, newest first."""
    rows = conn.execute(select(drift_runs).order_by(drift_runs.c.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in drift_runs.columns])
    for column in ("at", "window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
