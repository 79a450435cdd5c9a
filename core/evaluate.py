"""Evaluation on the fixed holdout: the headline weighted F1 and everything needed to explain it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from core.data.categories import label_for
from core.train import INPUT_COLUMNS


@dataclass(frozen=True)
class Evaluation:
    """Scores of one model on the holdout."""

    weighted_f1: float
    macro_f1: float
    accuracy: float
    rows: int
    per_class: pd.DataFrame  # code, label, precision, recall, f1, support
    confusion: pd.DataFrame  # true code (rows) x predicted code (columns), counts

    def metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow: headline scores plus ``f1_<code>`` per class."""
        flat = {
            "weighted_f1": self.weighted_f1,
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "holdout_rows": float(self.rows),
        }
        flat.update({f"f1_{row.code}": float(row.f1) for row in self.per_class.itertuples()})
        return flat


def evaluate(pipeline: Pipeline, holdout: pd.DataFrame) -> Evaluation:
    """Score a fitted pipeline on the holdout.

    Args:
        pipeline: Fitted pipeline.
        holdout: Frame with the input columns and ``prdtypecode``.

    Returns:
        Headline scores, per-class precision/recall/F1 and the confusion matrix, over every class
        present in the holdout or predicted.
    """
    truth = holdout["prdtypecode"].to_numpy()
    predicted = pipeline.predict(holdout[list(INPUT_COLUMNS)])
    codes = np.union1d(truth, predicted)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=codes, zero_division=0
    )
    per_class = pd.DataFrame(
        {
            "code": codes,
            "label": [label_for(int(c)) for c in codes],
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    )
    confusion = pd.crosstab(
        pd.Categorical(truth, categories=codes),
        pd.Categorical(predicted, categories=codes),
        rownames=["true"],
        colnames=["predicted"],
        dropna=False,
    )
    return Evaluation(
        weighted_f1=float(f1_score(truth, predicted, average="weighted", zero_division=0)),
        macro_f1=float(f1_score(truth, predicted, average="macro", zero_division=0)),
        accuracy=float(accuracy_score(truth, predicted)),
        rows=len(holdout),
        per_class=per_class,
        confusion=confusion,
    )


def most_confused(confusion: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The largest off-diagonal cells: true, predicted, count and share of the true class.

    Args:
        confusion: Counts, true classes as rows, predicted as columns (same codes on both).
        top: How many pairs.

    Returns:
        One row per pair, largest first.
    """
    counts = confusion.to_numpy(copy=True)
    np.fill_diagonal(counts, 0)
    totals = confusion.sum(axis=1).to_numpy()
    rows, cols = np.nonzero(counts)
    pairs = pd.DataFrame(
        {
            "true": [label_for(int(confusion.index[r])) for r in rows],
            "predicted": [label_for(int(confusion.columns[c])) for c in cols],
            "count": counts[rows, cols],
            "share": counts[rows, cols] / np.maximum(totals[rows], 1),
        }
    )
    return pairs.sort_values("count", ascending=False).head(top).reset_index(drop=True)


def classification_report(evaluation: Evaluation) -> str:
    """A plain-text report, one line per class, for the run's artifacts."""
    lines = [
        f"holdout rows: {evaluation.rows}",
        f"weighted F1: {evaluation.weighted_f1:.4f}   macro F1: {evaluation.macro_f1:.4f}   "
        f"accuracy: {evaluation.accuracy:.4f}",
        "",
        f"{'category':<48}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for row in evaluation.per_class.itertuples():
        lines.append(
            f"{row.label:<48}{row.precision:>10.3f}{row.recall:>10.3f}{row.f1:>10.3f}"
            f"{row.support:>10}"
        )
    return "\n".join(lines) + "\n"
