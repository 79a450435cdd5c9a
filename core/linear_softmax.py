"""A linear SVM whose probabilities are a softmax of its scores, with a fitted temperature.

``CalibratedClassifierCV`` gives a ``LinearSVC`` probabilities by refitting it three more times
(one per fold) and keeping three models: a fit costs four SVMs and a prediction three. Here the
probabilities are ``softmax(scores / T)`` of the one model's own scores, and ``T`` is learnt
from held-out scores within the one fit: the SVM (hinge loss, L2, one-vs-rest, trained by SGD,
which on TF-IDF features reaches ``LinearSVC``'s accuracy in a fraction of liblinear's time)
learns on 80 % of the rows, scores the other 20 % (``T`` minimises their log-loss), then makes
one more pass over every row. The fitted model is four plain arrays (``classes_``, ``coef_``,
``intercept_``, ``temperature_``), which is also what the API's compiled predictor reads: keep
them, and keep ``predict_proba`` exactly ``softmax((X @ coef_.T + intercept_) / temperature_)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import SGDClassifier
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_array, check_is_fitted

_LOG_T_BOUNDS = (-7.0, 5.0)  # T between ~0.001 and ~150: far outside what SVM scores need


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by each row's maximum so that it never overflows."""
    shifted = np.asarray(scores, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature ``T`` minimising the log-loss of ``softmax(scores / T)``.

    Args:
        scores: Decision values, one row per sample, one column per class.
        truth: Column index of each sample's true class.

    Returns:
        ``T > 0``, found by a bounded 1-D search over ``log T`` (the loss is smooth in it).

    Raises:
        ValueError: No samples, or shapes that do not match.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth)
    if scores.ndim != 2 or scores.shape[0] == 0 or truth.shape != (scores.shape[0],):
        raise ValueError(
            f"scores must be (n_samples, n_classes) with n_samples > 0 and truth (n_samples,), "
            f"got {scores.shape} and {truth.shape}"
        )
    rows = np.arange(scores.shape[0])

    def log_loss(log_t: float) -> float:
        z = scores / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, truth]))

    best = minimize_scalar(log_loss, bounds=_LOG_T_BOUNDS, method="bounded")
    return float(np.exp(best.x))


class SoftmaxSVC(ClassifierMixin, BaseEstimator):
    """Linear SVM (one-vs-rest) with probabilities ``softmax(decision / temperature_)``.

    Args:
        C: Inverse regularisation strength, as for ``LinearSVC``: the SGD penalty is
            ``1 / (C * n_samples)``.
        class_weight: ``None`` or ``"balanced"``.
        max_iter: Passes over the training rows before the temperature is fitted (one more
            pass over every row follows).
        calibration_fraction: Share of each class's rows held out to fit the temperature.
            Classes too small to spare one keep all their rows.
        random_state: Seed of the held-out draw and of SGD's shuffling.
    """

    def __init__(
        self,
        C: float = 1.0,  # noqa: N803 - scikit-learn's own name for it
        class_weight: str | None = None,
        max_iter: int = 5,
        calibration_fraction: float = 0.2,
        random_state: int | None = None,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SoftmaxSVC:  # noqa: N803
        """Fit the SVM and its temperature (see the module's docstring)."""
        if not 0 < self.calibration_fraction < 1:
            raise ValueError(
                f"calibration_fraction must be between 0 and 1, got {self.calibration_fraction!r}"
            )
        X = check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32))  # noqa: N806
        classes, y_index = np.unique(np.asarray(y), return_inverse=True)
        if classes.size < 2:
            raise ValueError("SoftmaxSVC needs samples of at least two classes")
        self.classes_, self.n_features_in_ = classes, X.shape[1]
        index = np.arange(classes.size)
        weight = None
        if self.class_weight == "balanced":  # SGD's partial_fit only takes weights as a dict
            balanced = compute_class_weight("balanced", classes=index, y=y_index)
            weight = dict(zip(index, balanced, strict=True))
        svm = SGDClassifier(
            loss="hinge",
            alpha=1.0 / (self.C * X.shape[0]),
            max_iter=self.max_iter,
            tol=None,  # a fixed number of passes: the fit time is known in advance
            class_weight=weight,
            random_state=self.random_state,
        )
        held = self._held_out(y_index)
        svm.fit(X[~held], y_index[~held])
        if held.any():  # every class keeps rows to learn from: see _held_out
            scores, truth = self._scores(svm, X[held]), y_index[held]
        else:  # too few rows to hold any out: training scores (over-confident, but defined)
            scores, truth = self._scores(svm, X), y_index
        svm.partial_fit(X, y_index, classes=index)  # the held-out rows are learnt from too
        coef, intercept = np.asarray(svm.coef_, np.float64), np.asarray(svm.intercept_, np.float64)
        if classes.size == 2:  # one row scores class 1: class 0 gets its opposite
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        self.coef_, self.intercept_ = np.ascontiguousarray(coef), intercept
        self.temperature_ = fit_temperature(scores, truth)
        return self

    def _held_out(self, y_index: np.ndarray) -> np.ndarray:
        """A stratified mask: ``calibration_fraction`` of each class (rounded down)."""
        rng = np.random.default_rng(self.random_state)
        order = np.lexsort((rng.random(y_index.size), y_index))  # shuffled within each class
        counts = np.bincount(y_index)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.empty(y_index.size, dtype=np.int64)
        rank[order] = np.arange(y_index.size) - np.repeat(starts, counts)
        quota = np.floor(counts * self.calibration_fraction).astype(np.int64)
        return rank < quota[y_index]

    def _scores(self, svm: SGDClassifier, X: Any) -> np.ndarray:  # noqa: N803
        scores = np.asarray(svm.decision_function(X), dtype=np.float64)
        return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores

    def decision_function(self, X: Any) -> np.ndarray:  # noqa: N803
        """``X @ coef_.T + intercept_`` in float64, one column per class of ``classes_``."""
        check_is_fitted(self, "temperature_")
        X = check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32))  # noqa: N806
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, the model expects {self.n_features_in_}"
            )
        return np.asarray(X @ self.coef_.T, dtype=np.float64) + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        """``softmax(decision_function(X) / temperature_)``, rows summing to 1."""
        return softmax(self.decision_function(X) / self.temperature_)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """The class of the highest score (the same as the highest probability)."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
