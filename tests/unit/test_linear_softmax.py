"""The softmax SVM's contract: the API's compiled predictor relies on exactly these arrays."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from core.linear_softmax import SoftmaxSVC, fit_temperature, softmax


def blobs(n_classes: int, n: int = 600, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse, non-negative, overlapping classes (like TF-IDF rows), labels as product codes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    centres = rng.random((n_classes, 40)) * (rng.random((n_classes, 40)) < 0.3)
    x = centres[y] + rng.random((n, 40)) * 0.8
    x[rng.random(x.shape) < 0.5] = 0
    codes = np.array([2583, 10, 1280, 40, 2705])[:n_classes]
    return sp.csr_matrix(x.astype(np.float32)), codes[y]


@pytest.fixture(scope="module", params=[2, 5], ids=["binary", "five classes"])
def fitted(request) -> tuple[SoftmaxSVC, sp.csr_matrix, np.ndarray]:
    x, y = blobs(request.param)
    return SoftmaxSVC(C=1.0, random_state=0).fit(x, y), x, y


def test_fitted_arrays_have_the_contract_shapes(fitted) -> None:
    model, x, y = fitted
    k = np.unique(y).size
    assert model.classes_.tolist() == sorted(set(y.tolist()))  # sorted, as scikit-learn does
    assert isinstance(model.coef_, np.ndarray) and model.coef_.shape == (k, x.shape[1])
    assert model.coef_.dtype == np.float64 and model.intercept_.shape == (k,)
    assert isinstance(model.temperature_, float) and model.temperature_ > 0


def test_decision_function_is_the_linear_score(fitted) -> None:
    model, x, _ = fitted
    expected = x.toarray().astype(np.float64) @ model.coef_.T + model.intercept_
    np.testing.assert_allclose(model.decision_function(x), expected, rtol=1e-9, atol=1e-9)


def test_probabilities_are_the_softmax_of_scores_over_the_temperature(fitted) -> None:
    model, x, _ = fitted
    scores = model.decision_function(x) / model.temperature_
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba, exp / exp.sum(axis=1, keepdims=True), rtol=0, atol=1e-9)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_predict_is_the_class_of_the_highest_probability(fitted) -> None:
    model, x, y = fitted
    predicted = model.predict(x)
    assert (predicted == model.classes_[model.predict_proba(x).argmax(axis=1)]).all()
    assert (predicted == y).mean() > 0.7  # it learnt something


def test_binary_scores_are_opposite_rows() -> None:
    x, y = blobs(2)
    model = SoftmaxSVC(C=1.0, random_state=0).fit(x, y)
    assert model.coef_.shape == (2, x.shape[1])
    np.testing.assert_array_equal(model.coef_[0], -model.coef_[1])
    assert model.intercept_[0] == -model.intercept_[1]


def test_pickles_to_the_same_answers(fitted) -> None:
    model, x, _ = fitted
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    assert again.temperature_ == model.temperature_


def test_same_seed_same_model() -> None:
    x, y = blobs(5, seed=3)
    a, b = SoftmaxSVC(random_state=1).fit(x, y), SoftmaxSVC(random_state=1).fit(x, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.temperature_ == b.temperature_


def test_probabilities_are_honest_on_new_rows() -> None:
    """Mean confidence on unseen rows stays near the accuracy (the temperature's purpose)."""
    x, y = blobs(5, n=4_000, seed=4)
    model = SoftmaxSVC(random_state=0).fit(x[:3_000], y[:3_000])
    proba = model.predict_proba(x[3_000:])
    accuracy = (model.classes_[proba.argmax(axis=1)] == y[3_000:]).mean()
    assert abs(proba.max(axis=1).mean() - accuracy) < 0.05


def test_balanced_class_weight_fits() -> None:
    x, y = blobs(5, seed=6)
    model = SoftmaxSVC(class_weight="balanced", random_state=0).fit(x, y)
    assert model.predict_proba(x).shape == (x.shape[0], 5)


def test_tiny_classes_still_fit() -> None:
    x, y = blobs(5, n=12, seed=2)  # some classes have one row: nothing can be held out of them
    model = SoftmaxSVC(random_state=0).fit(x, y)
    assert model.coef_.shape[0] == np.unique(y).size and model.temperature_ > 0


def test_fit_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(20_000, 4)) * 3
    truth = np.array([rng.choice(4, p=p) for p in softmax(scores / 2.0)])
    assert fit_temperature(scores, truth) == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"calibration_fraction": 0.0}, "calibration_fraction"), ({}, "at least two classes")],
)
def test_bad_input_is_refused_with_a_reason(kwargs: dict, message: str) -> None:
    x, y = blobs(3)
    labels = y if kwargs else np.zeros_like(y)
    with pytest.raises(ValueError, match=message):
        SoftmaxSVC(**kwargs).fit(x, labels)


def test_wrong_feature_count_is_refused(fitted) -> None:
    model, x, _ = fitted
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(x[:, :-1])
