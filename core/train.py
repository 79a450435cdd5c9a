"""The classifier: one scikit-learn Pipeline from raw product columns to class probabilities.

``TrainConfig`` is the single description of a training run's hyperparameters: the form on the
Training page, the train flow's parameters and the MLflow params all come from it, so a value
out of range is refused with the same message wherever it is entered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from core.features import combine_texts
from core.linear_softmax import SoftmaxSVC  # fitted: classes_, coef_, intercept_, temperature_

Classifier = Literal["svm_softmax", "logreg", "linear_svc", "sgd"]
CLASSIFIERS: dict[str, str] = {
    "svm_softmax": "Linear SVM (softmax probabilities)",
    "logreg": "Logistic regression",
    "linear_svc": "Linear SVM (calibrated, 3 extra fits)",
    "sgd": "SGD (log loss)",
}
INPUT_COLUMNS: tuple[str, str] = ("designation", "description")


class TrainingError(RuntimeError):
    """Training cannot start or failed for a reason a person can act on."""


class TrainConfig(BaseModel):
    """Hyperparameters of one training run, with the ranges the form and the flow enforce."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    classifier: Classifier = "svm_softmax"
    max_features: int = Field(100_000, ge=1_000, le=500_000, description="Word vocabulary size")
    word_ngram_max: int = Field(1, ge=1, le=3, description="Longest word n-gram")
    char_ngrams: bool = Field(
        True, description="Add character n-grams (read misspelt, glued and rare words)"
    )
    char_ngram_min: int = Field(3, ge=1, le=6, description="Shortest character n-gram")
    char_ngram_max: int = Field(4, ge=1, le=6, description="Longest character n-gram")
    char_max_features: int = Field(100_000, ge=1_000, le=500_000)
    char_text_limit: int = Field(
        150, ge=0, le=100_000, description="Characters of each text read for n-grams (0: all)"
    )
    min_df: int = Field(2, ge=1, le=50, description="Ignore terms in fewer documents")
    c: float = Field(1.0, gt=0, le=1_000, description="Inverse regularisation strength")
    class_weight: Literal["none", "balanced"] = "none"
    max_iter: int = Field(
        5, ge=1, le=5_000, description="Iterations (passes over the data for SGD-trained models)"
    )
    seed: int = Field(42, ge=0)

    @model_validator(mode="after")
    def _char_range(self) -> TrainConfig:
        if self.char_ngram_min > self.char_ngram_max:
            raise ValueError(
                f"char_ngram_min ({self.char_ngram_min}) is above char_ngram_max "
                f"({self.char_ngram_max})"
            )
        return self

    def params(self) -> dict[str, Any]:
        """Flat parameters for MLflow."""
        return self.model_dump()


# Presets that each win something on the built-in catalogue (bench/preset_ranking.py): the
# Default is the most accurate recipe measured (heavier ones, wider n-grams, more passes,
# logistic regression or liblinear's exact SVM, scored no better); Fast has the cheapest fit.
PRESETS: dict[str, TrainConfig] = {
    "Default: words + characters, softmax SVM": TrainConfig(),
    "Fast: small word vocabulary, SGD": TrainConfig(
        classifier="sgd",
        char_ngrams=False,
        max_features=30_000,
        word_ngram_max=1,
        c=5.0,
        max_iter=30,
    ),
}


def text_head(text: str, limit: int = 0) -> str:
    """The first ``limit`` characters of ``text`` (all if 0), lower-cased: a TF-IDF preprocessor.

    Args:
        text: One cleaned product text.
        limit: How many characters to keep; 0 keeps them all.

    Returns:
        The lower-cased head of the text.
    """
    return (text[:limit] if limit else text).lower()


class TextColumns(TransformerMixin, BaseEstimator):
    """First pipeline step: a frame with designation/description to one cleaned text per row."""

    def fit(self, x: pd.DataFrame, y: Any = None) -> TextColumns:
        return self

    def transform(self, x: pd.DataFrame) -> list[str]:
        missing = [c for c in INPUT_COLUMNS if c not in x.columns]
        if missing:
            raise ValueError(f"input is missing column(s): {', '.join(missing)}")
        description = x["description"].fillna("").astype(str)
        return combine_texts(x["designation"].fillna("").astype(str), description)


def build_pipeline(config: TrainConfig) -> Pipeline:
    """Cleaning → TF-IDF (words, optionally characters) → linear classifier.

    Args:
        config: Hyperparameters.

    Returns:
        An unfitted pipeline whose ``predict_proba`` takes a frame of the input columns.
    """
    features: list[tuple[str, Any]] = [
        (
            "words",
            TfidfVectorizer(
                ngram_range=(1, config.word_ngram_max),
                max_features=config.max_features,
                min_df=config.min_df,
                sublinear_tf=True,
                strip_accents=None,
                lowercase=True,
                dtype=np.float32,
            ),
        )
    ]
    if config.char_ngrams:
        features.append(
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(config.char_ngram_min, config.char_ngram_max),
                    max_features=config.char_max_features,
                    min_df=config.min_df,
                    sublinear_tf=True,
                    dtype=np.float32,
                    # Lower-cases like the default; the head of a long text carries most of the
                    # character evidence, and analysing all of it dominated the fit time.
                    preprocessor=partial(text_head, limit=config.char_text_limit),
                ),
            )
        )
    return Pipeline(
        [
            ("text", TextColumns()),
            ("features", FeatureUnion(features)),
            ("classifier", _classifier(config)),
        ]
    )


def _classifier(config: TrainConfig) -> BaseEstimator:
    weight = None if config.class_weight == "none" else "balanced"
    if config.classifier == "logreg":
        return LogisticRegression(
            C=config.c,
            class_weight=weight,
            max_iter=config.max_iter,
            solver="saga",
            random_state=config.seed,
        )
    if config.classifier == "svm_softmax":
        return SoftmaxSVC(
            C=config.c, class_weight=weight, max_iter=config.max_iter, random_state=config.seed
        )
    if config.classifier == "linear_svc":
        svm = LinearSVC(
            C=config.c, class_weight=weight, max_iter=config.max_iter * 10, random_state=config.seed
        )
        return CalibratedClassifierCV(svm, cv=3)
    return SGDClassifier(
        loss="log_loss",
        alpha=1e-4 / config.c,
        class_weight=weight,
        max_iter=config.max_iter,
        random_state=config.seed,
        tol=1e-4,
    )


@dataclass(frozen=True)
class FitResult:
    """A fitted pipeline and how long fitting took."""

    pipeline: Pipeline
    fit_seconds: float


def fit(config: TrainConfig, products: pd.DataFrame) -> FitResult:
    """Fit the pipeline on loaded products.

    Args:
        config: Hyperparameters.
        products: Frame with ``designation``, ``description`` and ``prdtypecode``.

    Returns:
        The fitted pipeline and the fit time.

    Raises:
        TrainingError: No products, or fewer than two categories, to learn from.
    """
    if products.empty:
        raise TrainingError("No products are loaded: initialize the data on the Dataset page.")
    if products["prdtypecode"].nunique() < 2:
        raise TrainingError("Training needs products of at least two categories.")
    pipeline = build_pipeline(config)
    start = time.perf_counter()
    pipeline.fit(products[list(INPUT_COLUMNS)], products["prdtypecode"].to_numpy())
    return FitResult(pipeline, time.perf_counter() - start)
