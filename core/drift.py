"""Drift between what the champion was trained on and what it is asked now, with Evidently 0.7.

Both sides are turned into the same frame (:func:`drift_frame`): the two text columns, declared as
text, plus descriptors of them (title length and word count, empty description, digit and
uppercase shares), the predicted class (for the reference: the true label, so a shifted category
mix shows) and the prediction's confidence. :func:`compute_drift` runs ``Report`` +
``DataDriftPreset`` on them and returns the HTML report and a summary: the share of drifted
columns, which ones, and the verdict against the threshold (``RAKUTEN_DRIFT_SHARE_THRESHOLD``).

The numeric and categorical tests are fixed (normed Wasserstein distance, Jensen-Shannon
distance) rather than chosen by sample size, so that "score ≥ threshold" means drift for every
column, whatever the window's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry: nothing may call out

from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

from core.db.tables import drift_runs  # noqa: E402

TEXT_COLUMNS = ("designation", "description")
NUMERIC_COLUMNS = ("confidence", "title_length", "title_words", "digit_share", "upper_share")
CATEGORICAL_COLUMNS = ("predicted_code", "description_empty")
COLUMNS = (*TEXT_COLUMNS, *NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS)
MIN_ROWS = 30  # fewer current rows than this say nothing about a distribution


class DriftInputError(ValueError):
    """The samples cannot be compared (too few rows, missing columns); the message says why."""


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


def drift_frame(
    designation: pd.Series,
    description: pd.Series,
    predicted_code: pd.Series,
    confidence: pd.Series,
) -> pd.DataFrame:
    """The columns the drift check compares, descriptors computed from the texts."""
    title = designation.fillna("").astype(str).reset_index(drop=True)
    text = description.fillna("").astype(str).reset_index(drop=True)
    length = title.str.len()
    return pd.DataFrame(
        {
            "designation": title,
            "description": text,
            "confidence": confidence.astype(float).reset_index(drop=True),
            "title_length": length,
            "title_words": title.str.split().str.len().fillna(0).astype(int),
            "digit_share": title.str.count(r"\d") / length.clip(lower=1),
            "upper_share": title.str.count(r"[A-ZÀ-Ý]") / length.clip(lower=1),
            "predicted_code": predicted_code.astype(int).astype(str).reset_index(drop=True),
            "description_empty": (text.str.strip() == "").map({True: "empty", False: "text"}),
        }
    )


def compute_drift(
    reference: pd.DataFrame, current: pd.DataFrame, threshold: float
) -> tuple[DriftSummary, str]:
    """Compare ``current`` with ``reference`` (both from :func:`drift_frame`).

    Args:
        reference: What the champion was trained on.
        current: A window of the inference log.
        threshold: Drift share above which the verdict is "drift".

    Returns:
        The summary and the Evidently report as a standalone HTML page.

    Raises:
        DriftInputError: A side lacks columns, or the current window has fewer than
            ``MIN_ROWS`` rows.
    """
    for name, frame in (("reference", reference), ("current", current)):
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise DriftInputError(f"the {name} sample lacks column(s): {', '.join(missing)}")
    if len(current) < MIN_ROWS:
        raise DriftInputError(
            f"only {len(current)} prediction(s) in the window: send at least {MIN_ROWS} first"
        )
    if len(reference) < MIN_ROWS:
        raise DriftInputError(f"the reference sample has only {len(reference)} row(s)")
    definition = DataDefinition(
        text_columns=list(TEXT_COLUMNS),
        numerical_columns=list(NUMERIC_COLUMNS),
        categorical_columns=list(CATEGORICAL_COLUMNS),
    )
    report = Report(
        [DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon")],
        include_tests=False,
    )
    snapshot = report.run(
        Dataset.from_pandas(current[list(COLUMNS)], data_definition=definition),
        Dataset.from_pandas(reference[list(COLUMNS)], data_definition=definition),
    )
    scores: dict[str, float] = {}
    limits: dict[str, float] = {}
    share = 0.0
    for metric in snapshot.dict()["metrics"]:
        config, value = metric["config"], metric["value"]
        if config.get("type", "").endswith("DriftedColumnsCount"):
            share = float(value["share"])
        elif column := config.get("column"):
            scores[column], limits[column] = float(value), float(config["threshold"])
    drifted = tuple(c for c in COLUMNS if c in scores and scores[c] >= limits[c])
    summary = DriftSummary(share, drifted, scores, threshold, len(reference), len(current))
    return summary, snapshot.get_html_str(as_iframe=False)


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
