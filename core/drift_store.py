"""Drift checks as stored: a summary row in ``drift_runs`` and the Evidently report as a file.

Kept apart from :mod:`core.drift` so that reading the history needs no Evidently import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from core.access import Actor
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
    actor: Actor  # who ran the check: a person, the daily schedule


@dataclass(frozen=True, slots=True)
class DriftCheck:
    """One stored drift check, as the pages show it."""

    id: int
    at: datetime
    window_start: datetime | None
    window_end: datetime | None
    reference_rows: int
    current_rows: int
    drift_share: float
    threshold: float
    verdict: str  # drift | no drift
    drifted_columns: tuple[str, ...]
    champion_version: int | None
    report_file: str  # relative to <var_dir>/drift/
    triggered_by: str  # the actor's label
    decision: str  # what the monitor flow did about it; empty until decided

    @property
    def drifted(self) -> bool:
        """Whether the verdict was drift."""
        return self.verdict == "drift"


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
        "at": at,
        "window_start": run.window_start,
        "window_end": run.window_end,
        "reference_rows": summary.reference_rows,
        "current_rows": summary.current_rows,
        "drift_share": summary.drift_share,
        "threshold": summary.threshold,
        "verdict": summary.verdict,
        "drifted_columns": ",".join(summary.drifted_columns),
        "champion_version": run.champion_version,
        "report_file": name,
        "triggered_by": run.actor.label,
        "decision": "",
    }
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


def drift_checks(conn: Connection, limit: int = 200) -> list[DriftCheck]:
    """Drift checks, newest first.

    Args:
        conn: Open connection.
        limit: At most this many.

    Returns:
        The checks, with every time in UTC.
    """
    rows = conn.execute(select(drift_runs).order_by(drift_runs.c.id.desc()).limit(limit)).all()
    return [
        DriftCheck(
            id=row.id,
            at=_utc(row.at),
            window_start=_utc(row.window_start) if row.window_start else None,
            window_end=_utc(row.window_end) if row.window_end else None,
            reference_rows=row.reference_rows,
            current_rows=row.current_rows,
            drift_share=row.drift_share,
            threshold=row.threshold,
            verdict=row.verdict,
            drifted_columns=tuple(c for c in row.drifted_columns.split(",") if c),
            champion_version=row.champion_version,
            report_file=row.report_file,
            triggered_by=row.triggered_by,
            decision=row.decision or "",
        )
        for row in rows
    ]


def drift_runs_frame(conn: Connection, limit: int = 200) -> pd.DataFrame:
    """Drift checks, newest first, as a table (for flows and notebooks)."""
    rows = conn.execute(select(drift_runs).order_by(drift_runs.c.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in drift_runs.columns])
    for column in ("at", "window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
