"""Why this category: each term's contribution is exact, and they add up to the model's score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from api.model import ServedModel
from core.serving.compile import PipelinePredictor, serving_scorer
from core.serving.compiled import CompiledModel
from core.serving.explain import explain, word_scores
from core.train import TrainConfig, build_pipeline

PRODUCTS = [
    ("Console PS4 Slim 500 Go + 2 manettes", "Console de jeux <b>Sony</b> en très bon état"),
    ("Piscine tubulaire ronde 3,66 m", ""),
    ("Livre de poche — roman policier", "Éditions Gallimard, 1998, couverture souple"),
    ("zzqx blorft", None),
]
CLASSIFIERS = ["svm_softmax", "sgd", "logreg", "linear_svc"]
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module", params=CLASSIFIERS)
def fitted(request: pytest.FixtureRequest, catalogue: pd.DataFrame) -> tuple[str, Pipeline]:
    config = TrainConfig(
        classifier=request.param,
        max_features=5_000,
        char_max_features=5_000,
        word_ngram_max=2,
        max_iter=20,
    )
    pipeline = build_pipeline(config).fit(
        catalogue[["designation", "description"]], catalogue["prdtypecode"]
    )
    return request.param, pipeline


def _decision(pipeline: Pipeline, designation: str, description: str | None) -> np.ndarray:
    """The model's own linear scores (a calibrated SVM's: the mean of its folds' SVMs'; the
    softmax SVM's: before its temperature)."""
    frame = pd.DataFrame({"designation": [designation], "description": [description]})
    features = pipeline[:-1].transform(frame)
    classifier = pipeline[-1]
    if hasattr(classifier, "calibrated_classifiers_"):
        folds = [c.estimator for c in classifier.calibrated_classifiers_]
        return np.mean([f.decision_function(features)[0] for f in folds], axis=0)
    return np.asarray(classifier.decision_function(features)[0])


@pytest.mark.parametrize(("designation", "description"), PRODUCTS)
def test_contributions_and_intercept_sum_to_the_decision_score(
    fitted: tuple[str, Pipeline], designation: str, description: str | None
) -> None:
    name, pipeline = fitted
    model = ServedModel.of(pipeline, version=1, run_id="r")
    found = model.explain(designation, description, top=None)
    scores = _decision(pipeline, designation, description)
    classes = list(pipeline.classes_)
    probabilities = model.scorer.predict_proba_products([designation], [description])[0]
    ranked = np.argsort(-probabilities, kind="stable")
    assert found.predicted.code == classes[ranked[0]]  # the class the model answers with
    assert found.runner_up is not None and found.runner_up.code == classes[ranked[1]]
    for evidence in (found.predicted, found.runner_up):
        total = evidence.intercept + sum(t.contribution for t in evidence.terms)
        assert evidence.other_terms == 0.0  # every term listed
        expected = scores[classes.index(evidence.code)]
        assert total == pytest.approx(expected, abs=1e-6), name
        assert evidence.score == pytest.approx(expected, abs=1e-6)
        # The per-word shares add up to the same terms (char_wb and word terms both split).
        assert sum(evidence.words.values()) == pytest.approx(total - evidence.intercept, abs=1e-6)
    if name == "linear_svc":
        assert not isinstance(model.scorer, CompiledModel)
        assert "calibrated SVM" in found.scores
    elif name == "svm_softmax":
        assert "temperature" in found.scores


def test_the_strongest_terms_come_first_and_the_rest_is_summed(
    fitted: tuple[str, Pipeline],
) -> None:
    _, pipeline = fitted
    model = ServedModel.of(pipeline, version=1, run_id="r")
    designation, description = PRODUCTS[0]
    every = model.explain(designation, description, top=None).predicted
    some = model.explain(designation, description, top=5).predicted
    assert len(some.terms) == 5 < len(every.terms)
    sizes = [abs(t.contribution) for t in some.terms]
    assert sizes == sorted(sizes, reverse=True)
    assert some.terms == every.terms[:5]
    rest = sum(t.contribution for t in every.terms[5:])
    assert some.other_terms == pytest.approx(rest, abs=1e-9)
    kinds = {t.kind for t in every.terms}
    assert "word" in kinds and "chars" in kinds  # both vectorizers explain


def test_a_console_is_a_console_because_of_its_words(catalogue: pd.DataFrame) -> None:
    pipeline = build_pipeline(TrainConfig(max_features=5_000, char_max_features=5_000)).fit(
        catalogue[["designation", "description"]], catalogue["prdtypecode"]
    )
    scorer = serving_scorer(pipeline)
    assert isinstance(scorer, CompiledModel)
    found = explain(scorer, "Console PS4 + manette", "")
    best = max(found.predicted.words, key=found.predicted.words.__getitem__)
    assert best in {"console", "ps4", "manette"}
    pieces = word_scores("Console PS4, + manette", found.predicted.words)
    assert "".join(p for p, _ in pieces) == "Console PS4, + manette"  # nothing lost or added
    by_piece = dict(pieces)
    assert by_piece["Console"] == pytest.approx(found.predicted.words["console"])
    assert by_piece["PS4,"] == pytest.approx(
        found.predicted.words.get("ps4,", 0) + found.predicted.words.get("ps4", 0)
    )
    assert by_piece["+"] == 0 or "+" in found.predicted.words


def test_a_pipeline_without_linear_scores_says_it_cannot_be_explained() -> None:
    class Opaque:
        classes_ = np.array([1, 2])

        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.tile([0.3, 0.7], (len(frame), 1))

    model = ServedModel.of(PipelinePredictor(Opaque()), version=3, run_id="r")
    with pytest.raises(ValueError, match="version 3 cannot be explained"):
        model.explain("a", "b")
