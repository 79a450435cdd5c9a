"""Measure how hard the synthetic catalogue is for a TF-IDF + logistic regression baseline.

Usage (from the repository root)::

    python bench/baseline_f1.py [--rows N] [--seed S] [--c C]

Prints the generation time, the fit time, weighted / macro F1, accuracy and the five worst
classes of a stratified 85/15 split. The real challenge scores about 0.80 weighted F1 with
such a baseline; the synthetic data is tuned to land near 0.85.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

# Running as ``python bench/baseline_f1.py`` puts bench/, not the repo root, on sys.path.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from core.data.categories import CATEGORY_BY_CODE  # noqa: E402
from core.data.synthetic import generate_catalogue  # noqa: E402
from core.features import combine_texts  # noqa: E402

log = logging.getLogger("bench.baseline_f1")


def run(
    rows: int | None, seed: int, c: float, solver: str = "saga", max_features: int = 50_000
) -> dict[str, float]:
    """Generate a catalogue, fit the baseline and return its scores.

    Args:
        rows: Catalogue size (``None`` for the full 84,916 rows).
        seed: Seed for the catalogue and the split.
        c: Inverse regularisation strength of the logistic regression.
        solver: Logistic regression solver; ``saga`` is several times faster than ``lbfgs``
            here and reaches the same scores.
        max_features: TF-IDF vocabulary size.

    Returns:
        Timings and scores: ``gen_s``, ``fit_s``, ``weighted_f1``, ``macro_f1``, ``accuracy``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    start = time.perf_counter()
    df = generate_catalogue(rows, seed=seed)
    gen_s = time.perf_counter() - start
    text = combine_texts(df["designation"], df["description"])
    x_train, x_test, y_train, y_test = train_test_split(
        text,
        df["prdtypecode"].to_numpy(),
        test_size=0.15,
        stratify=df["prdtypecode"],
        random_state=seed,
    )
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=max_features),
        LogisticRegression(C=c, solver=solver, max_iter=1000),
    )
    start = time.perf_counter()
    model.fit(x_train, y_train)
    fit_s = time.perf_counter() - start
    predicted = model.predict(x_test)
    labels = sorted(set(y_test))
    per_class = f1_score(y_test, predicted, labels=labels, average=None)
    worst = sorted(zip(per_class, labels, strict=True))[:5]
    scores = {
        "gen_s": gen_s,
        "fit_s": fit_s,
        "weighted_f1": f1_score(y_test, predicted, average="weighted"),
        "macro_f1": f1_score(y_test, predicted, average="macro"),
        "accuracy": accuracy_score(y_test, predicted),
    }
    log.info("rows=%d seed=%d C=%.1f solver=%s", len(df), seed, c, solver)
    log.info("generation %.2f s, fit %.1f s", gen_s, fit_s)
    log.info(
        "weighted F1 %.4f | macro F1 %.4f | accuracy %.4f",
        scores["weighted_f1"],
        scores["macro_f1"],
        scores["accuracy"],
    )
    for f1, code in worst:
        log.info("  worst: %-40s F1 %.3f", CATEGORY_BY_CODE[int(code)].label, f1)
    return scores


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="catalogue size (default: full)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--c", type=float, default=3.0, help="LogisticRegression C")
    parser.add_argument("--solver", default="saga", help="LogisticRegression solver")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    run(args.rows, args.seed, args.c, args.solver)
    return 0


if __name__ == "__main__":
    sys.exit(main())
