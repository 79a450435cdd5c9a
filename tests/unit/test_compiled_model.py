"""The compiled model answers what the pipeline does (to 1e-6), or the pipeline answers itself."""

from __future__ import annotations

import logging
import pickle
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from api.model import ServedModel
from core.data.synthetic import generate_catalogue
from core.serving.analyzers import AnalyzerSpec
from core.serving.compile import (
    NotCompilable,
    PipelinePredictor,
    compile_pipeline,
    serving_scorer,
    verify,
)
from core.serving.compiled import CompiledModel
from core.train import INPUT_COLUMNS, TextColumns, text_head

EDGE_PRODUCTS = [  # empty, unknown words, case, accents, entities, tags, spacing
    ("", ""),
    ("", None),
    ("QWXZ blorft zzyzx", "unknownword"),
    ("PISCINE GONFLABLE", "<p>Pour l&#39;&Eacute;T&Eacute; &amp;amp; le jardin</p>"),
    ("piscine gonflable", "pour l'été & le jardin"),
    ("Livre de poche — Éditions Gallimard", "<br/><br />  \t"),
    ("Spielzeug für Kinder", "Größe 12×8 cm"),
]


class ScaledSoftmax(ClassifierMixin, BaseEstimator):
    """A test double of the softmax-SVM contract: ``softmax((X @ coef_.T + b) / T)``.

    ``two_rows=False`` keeps liblinear's single row for two classes (probability of class 1 =
    sigmoid(score / T)), the other form a binary model may take.
    """

    def __init__(self, temperature: float = 0.4, two_rows: bool = True) -> None:
        self.temperature = temperature
        self.two_rows = two_rows

    def fit(self, X: Any, y: Any) -> ScaledSoftmax:  # noqa: N803
        svm = LinearSVC(C=0.5, random_state=0).fit(X, y)
        coef, intercept = svm.coef_, svm.intercept_
        if len(svm.classes_) == 2 and self.two_rows:
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        self.classes_, self.coef_, self.intercept_ = svm.classes_, coef, intercept
        self.temperature_ = float(self.temperature)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        scores = np.asarray(X @ self.coef_.T, dtype=np.float64) + self.intercept_
        scores /= self.temperature_
        if scores.shape[1] == 1:
            positive = 1 / (1 + np.exp(-scores[:, 0]))
            return np.column_stack([1 - positive, positive])
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)


class Unfaithful(ScaledSoftmax):
    """Claims the contract's attributes but answers something else: must not be compiled."""

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        return super().predict_proba(X) ** 2 / (super().predict_proba(X) ** 2).sum(1)[:, None]


def words(ngrams: int = 2) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, ngrams), min_df=2, sublinear_tf=True, dtype=np.float32)


def chars() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, dtype=np.float32
    )


def chars_head(limit: int) -> TfidfVectorizer:
    """Character n-grams of the text's head only, as the default preset's (core.train)."""
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        preprocessor=partial(text_head, limit=limit),
        min_df=2,
        sublinear_tf=True,
        dtype=np.float32,
    )


def pipeline(features: Any, classifier: Any) -> Pipeline:
    return Pipeline([("text", TextColumns()), ("features", features), ("classifier", classifier)])


@pytest.fixture(scope="module")
def catalogue() -> tuple[pd.DataFrame, pd.DataFrame]:
    products = generate_catalogue(1_500, seed=11)
    holdout = products.sample(300, random_state=0)
    return products.drop(holdout.index), holdout


CASES = {
    "logreg, words": lambda: pipeline(words(), LogisticRegression(C=5, max_iter=300)),
    "logreg, words + chars": lambda: pipeline(
        FeatureUnion([("words", words()), ("chars", chars())]), LogisticRegression(max_iter=200)
    ),
    "sgd log loss, words": lambda: pipeline(
        words(1), SGDClassifier(loss="log_loss", random_state=0)
    ),
    "softmax svm, words + chars": lambda: pipeline(
        FeatureUnion([("words", words()), ("chars", chars())]), ScaledSoftmax()
    ),
    "softmax svm, words + chars of the head": lambda: pipeline(
        FeatureUnion([("words", words()), ("chars", chars_head(40))]), ScaledSoftmax()
    ),
    "softmax svm, words only": lambda: pipeline(FeatureUnion([("w", words())]), ScaledSoftmax(2)),
}
BINARY = {
    "logreg": lambda: LogisticRegression(),
    "sgd log loss": lambda: SGDClassifier(loss="log_loss", random_state=0),
    "softmax svm, two rows": lambda: ScaledSoftmax(),
    "softmax svm, one row": lambda: ScaledSoftmax(two_rows=False),
}


def assert_same_answers(model: Any, scorer: Any, products: pd.DataFrame) -> None:
    frame = products[list(INPUT_COLUMNS)]
    expected = model.predict_proba(frame)
    found = scorer.predict_proba_products(frame.designation.tolist(), frame.description.tolist())
    assert found.shape == expected.shape
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-6)


def edge_frame() -> pd.DataFrame:
    return pd.DataFrame(EDGE_PRODUCTS, columns=list(INPUT_COLUMNS))


@pytest.mark.parametrize("case", CASES)
def test_the_compiled_model_answers_what_the_pipeline_answers(case: str, catalogue: Any) -> None:
    train, holdout = catalogue
    model = CASES[case]().fit(train[list(INPUT_COLUMNS)], train.prdtypecode)
    scorer = serving_scorer(model)
    assert isinstance(scorer, CompiledModel)
    assert_same_answers(model, scorer, holdout)
    assert_same_answers(model, scorer, edge_frame())
    # The empty product scores the intercept alone, through the link: still a distribution.
    empty = scorer.predict_proba_products([""], [""])
    assert empty.shape == (1, len(model.classes_)) and abs(empty.sum() - 1) < 1e-6
    # What the serving process loads is a pickle of the compiled model (no scikit-learn in it).
    assert_same_answers(model, pickle.loads(pickle.dumps(scorer)), holdout.head(50))


@pytest.mark.parametrize("case", BINARY)
def test_two_classes_are_compiled_too(case: str, catalogue: Any) -> None:
    train, holdout = catalogue
    two = train[train.prdtypecode.isin([2583, 1280])]
    model = pipeline(words(), BINARY[case]()).fit(two[list(INPUT_COLUMNS)], two.prdtypecode)
    scorer = serving_scorer(model)
    assert isinstance(scorer, CompiledModel) and scorer.link in {"binary_sigmoid", "softmax"}
    assert_same_answers(model, scorer, holdout)
    assert_same_answers(model, scorer, edge_frame())


def test_the_projects_own_softmax_svm_is_compiled(catalogue: Any) -> None:
    train, holdout = catalogue
    from core import train as training

    if not hasattr(training, "SoftmaxSVC"):
        pytest.skip("core.train has no SoftmaxSVC yet")
    config = training.TrainConfig(classifier="svm_softmax", char_ngrams=True)
    model = training.build_pipeline(config).fit(train[list(INPUT_COLUMNS)], train.prdtypecode)
    scorer = serving_scorer(model)
    assert isinstance(scorer, CompiledModel) and scorer.temperature != 1.0
    assert_same_answers(model, scorer, holdout)


@pytest.mark.parametrize(
    "model",
    [
        pipeline(words(), CalibratedClassifierCV(LinearSVC(), cv=2)),  # a calibrated classifier
        pipeline(words(), Unfaithful()),  # the contract's attributes, other answers
        pipeline(TfidfVectorizer(stop_words=["de", "la"]), LogisticRegression()),  # an option
    ],
    ids=["calibrated", "unfaithful", "stop words"],
)
def test_what_is_not_compiled_is_served_by_the_pipeline_and_said(
    model: Pipeline, catalogue: Any, caplog: pytest.LogCaptureFixture
) -> None:
    train, holdout = catalogue
    model.fit(train[list(INPUT_COLUMNS)], train.prdtypecode)
    with caplog.at_level(logging.WARNING, logger="core.serving"):
        scorer = serving_scorer(model)
    assert isinstance(scorer, PipelinePredictor)
    assert "serving the pipeline itself" in caplog.text
    assert_same_answers(model, scorer, holdout.head(20))


def test_verification_refuses_a_model_that_differs(catalogue: Any) -> None:
    train, _ = catalogue
    model = pipeline(words(), ScaledSoftmax()).fit(train[list(INPUT_COLUMNS)], train.prdtypecode)
    compiled = compile_pipeline(model)
    assert verify(compiled, model) <= 1e-6
    skewed = CompiledModel(
        compiled.classes,
        compiled.features,
        compiled.coef_t,
        compiled.intercept,
        compiled.link,
        temperature=compiled.temperature * 1.01,
        scaled=True,
    )
    with pytest.raises(NotCompilable, match="probabilities differ by"):
        verify(skewed, model)


def test_shapes_that_do_not_fit_are_refused() -> None:
    spec = AnalyzerSpec("word", (1, 1), True, None, r"(?u)\b\w\w+\b")
    from core.serving.compiled import TermWeights

    terms = TermWeights(spec, {"a": 0, "b": 1}, None, np.dtype(np.float32), True, False, "l2", 0)
    with pytest.raises(ValueError, match="do not fit 2 features and 3 score columns"):
        CompiledModel(np.arange(3), (terms,), np.zeros((2, 2)), np.zeros(3), "softmax")


@pytest.mark.parametrize(
    "options",
    [
        {"ngram_range": (1, 3)},
        {"ngram_range": (2, 2), "lowercase": False},
        {"strip_accents": "unicode"},
        {"strip_accents": "ascii", "token_pattern": r"(?u)\b\w+\b"},
        {"analyzer": "char_wb", "ngram_range": (2, 5)},
        {"analyzer": "char_wb", "ngram_range": (1, 3), "strip_accents": "unicode"},
        {"analyzer": "char", "ngram_range": (1, 4)},
        {"analyzer": "char", "ngram_range": (3, 6), "lowercase": False},
    ],
)
def test_the_analyzers_give_scikit_learns_terms(options: dict[str, Any]) -> None:
    vectorizer = TfidfVectorizer(**options)
    spec = AnalyzerSpec(
        kind=vectorizer.analyzer,
        ngram_range=vectorizer.ngram_range,
        lowercase=vectorizer.lowercase,
        strip_accents=vectorizer.strip_accents,
        token_pattern=vectorizer.token_pattern,
    )
    theirs, ours = vectorizer.build_analyzer(), spec.build()
    texts = ["", "a", "Ab", "Été  à\tl'ÉCOLE", "x  y\n\nz", "Größe 12×8cm n°5 — ok", "œuvre ﬁn"]
    for text in texts + [" ".join(t for t, _ in EDGE_PRODUCTS)]:
        assert ours(text) == theirs(text), text


def test_ranking_keeps_the_k_best_most_probable_first() -> None:
    probabilities = np.array([[0.1, 0.4, 0.2, 0.3], [0.25, 0.25, 0.5, 0.0]])

    class Fixed:
        classes = np.array([10, 40, 50, 60])

        def predict_proba_products(self, designations: Any, descriptions: Any) -> np.ndarray:
            return probabilities[: len(designations)]

    served = ServedModel.of(Fixed(), version=1, run_id="r")
    ranked = served.rank_texts(["a", "b"], ["", ""], 3)
    assert [[r.code for r in row] for row in ranked] == [[40, 60, 50], [50, 10, 40]]
    assert [r.probability for r in ranked[0]] == [0.4, 0.3, 0.2]
    assert [len(r) for r in served.rank_texts(["a", "b"], ["", ""], 9)] == [4, 4]


def test_a_compiled_model_scores_a_sparse_row_like_the_arithmetic_says(catalogue: Any) -> None:
    train, _ = catalogue
    model = pipeline(words(1), LogisticRegression(max_iter=300))
    model.fit(train[list(INPUT_COLUMNS)], train.prdtypecode)
    compiled = compile_pipeline(model)
    vectorizer, classifier = model.named_steps["features"], model.named_steps["classifier"]
    term = next(iter(vectorizer.vocabulary_))
    row = sparse.csr_array(vectorizer.transform([term]))
    expected = row @ classifier.coef_.T + classifier.intercept_
    np.testing.assert_allclose(compiled.decision_function([term]), expected, atol=1e-6)
