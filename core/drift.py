"""Drift between what the champion was trained on and what it is asked now, with Evidently 0.7.

Both sides are turned into the same frame (:func:`drift_frame`): the two text columns, declared as
text, plus descriptors of them (title length and word count, empty description, digit and
uppercase shares), the predicted class (for the reference: the true label, so a shifted category
mix shows) and the prediction's confidence. :func:`compute_drift` runs ``Report`` +
``DataDriftPreset`` on them and returns the HTML report and a summary: the share of drifted
columns, which ones, and the verdict against the threshold (``RAKUTEN_DRIFT_SHARE_THRESHOLD``).
The report's embedded data is neutralised (:func:`neutralise_report`): anyone can send a product
title to the API, and the report shows samples of the inference log.

The numeric and categorical tests are fixed (normed Wasserstein distance, Jensen-Shannon
distance) rather than chosen by sample size, so that "score ≥ threshold" means drift for every
column, whatever the window's size.
"""

from __future__ import annotations

import os
import re

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from core.drift_store import MIN_ROWS, DriftSummary

TEXT_COLUMNS = ("designation", "description")
NUMERIC_COLUMNS = ("confidence", "title_length", "title_words", "digit_share", "upper_share")
CATEGORICAL_COLUMNS = ("predicted_code", "description_empty")
COLUMNS = (*TEXT_COLUMNS, *NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS)

# Evidently writes the report's data as two JavaScript assignments of JSON, one line each (JSON
# escapes newlines, so no text can start a line), in a <script> element of the <head>:
# ``var metric_<hex> = {...};`` and ``var additional_graphs_metric_<hex> = {...};``.
_DATA_LINE = re.compile(r"\s*var (?:additional_graphs_)?(metric_[0-9a-f]+) = \{.*\};")
# In JSON, these characters only occur inside strings, where their \u escapes read back the same.
_MARKUP_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class DriftInputError(ValueError):
    """The samples cannot be compared (too few rows, missing columns); the message says why."""


class ReportLayoutError(RuntimeError):
    """Evidently's HTML is not laid out as :func:`neutralise_report` knows it."""


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
        ReportLayoutError: Evidently's HTML could not be neutralised (see
            :func:`neutralise_report`).
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
    # Usage telemetry: nothing may call out. Evidently reads this when it would send, not at import.
    os.environ.setdefault("DO_NOT_TRACK", "1")
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
    return summary, neutralise_report(snapshot.get_html_str(as_iframe=False))


def neutralise_report(html: str) -> str:
    """The report with its embedded data unable to end, or turn into, markup.

    Evidently embeds the data as plain ``json.dumps`` output inside a ``<script>``: a title such
    as ``</script><img src=x onerror=...>`` would close the element and run as the page's own
    script, and ``<!--`` would change where it ends. Every ``<``, ``>`` and ``&`` of the data
    lines becomes its JSON escape, which JavaScript reads back as the same character, so the
    report shows the text as it was sent.

    Args:
        html: A standalone report from Evidently's ``get_html_str(as_iframe=False)``.

    Returns:
        The same report, its data lines escaped.

    Raises:
        ReportLayoutError: The two data lines are not where Evidently 0.7 writes them: rather no
            report than one whose data may run as script.
    """
    lines = html.split("\n")
    found: list[str] = []
    for number, line in enumerate(lines):
        if line.strip() == "</head>":
            break
        if match := _DATA_LINE.fullmatch(line):
            found.append(match.group(1))
            lines[number] = line.translate(_MARKUP_ESCAPES)
    if len(found) != 2 or found[0] != found[1]:
        raise ReportLayoutError(
            "the drift report's layout is not the one Evidently 0.7 writes (two data lines in "
            "the <head>), so its data cannot be made safe to show: the report is not kept. "
            "Check the evidently version pinned in requirements.txt."
        )
    return "\n".join(lines)
