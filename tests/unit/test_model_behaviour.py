"""How the model behaves, not only that the code runs (Made-With-ML's behavioural tests)."""

from __future__ import annotations

import pandas as pd
import pytest

from core.data.categories import CODES
from core.data.synthetic import generate_catalogue
from core.evaluate import evaluate, most_confused
from core.features import clean_text
from core.train import INPUT_COLUMNS, FitResult, TrainConfig, TrainingError, build_pipeline, fit


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame]:
    catalogue = generate_catalogue(12_000, seed=3)
    holdout = catalogue.groupby("prdtypecode", group_keys=False).sample(frac=0.15, random_state=1)
    return catalogue.drop(holdout.index), holdout


@pytest.fixture(scope="module")
def model(split) -> FitResult:
    return fit(TrainConfig(max_features=30_000), split[0])


def predict(model: FitResult, frame: pd.DataFrame) -> list[int]:
    return model.pipeline.predict(frame[list(INPUT_COLUMNS)]).tolist()


def test_predictions_ignore_letter_case(model: FitResult, split) -> None:
    # Entities are markup, not text (&EACUTE; is no entity): compare on unescaped text.
    holdout = split[1].assign(description=split[1]["description"].map(clean_text))
    shouted = holdout.assign(
        designation=holdout["designation"].str.upper(),
        description=holdout["description"].str.upper(),
    )
    assert predict(model, shouted) == predict(model, holdout)


def test_predictions_ignore_html_wrapping_and_entities(model: FitResult, split) -> None:
    holdout = split[1]
    wrapped = holdout.assign(
        description=holdout["description"].map(
            lambda d: f"<p><b>{d.replace('é', '&eacute;').replace('&', '&amp;')}</b></p><br />"
        )
    )
    plain = holdout.assign(description=holdout["description"])
    assert predict(model, wrapped) == predict(model, plain)


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("Piscine tubulaire hors sol ronde avec kit de filtration", 2583),
        ("Robot piscine électrique pour fond et parois", 2583),
        ("Biberon anti-colique sans BPA pour bébé", 1320),
        ("Croquettes pour chien adulte sac de 12 kg", 2220),
        ("Cahier à spirale grands carreaux 96 pages", 2522),
    ],
)
def test_a_plainly_worded_title_lands_in_its_category(
    model: FitResult, title: str, code: int
) -> None:
    frame = pd.DataFrame({"designation": [title], "description": [""]})
    assert predict(model, frame) == [code]


def test_probabilities_cover_every_class_and_sum_to_one(model: FitResult, split) -> None:
    proba = model.pipeline.predict_proba(split[1][list(INPUT_COLUMNS)].head(20))
    assert proba.shape == (20, len(CODES))
    assert abs(proba.sum(axis=1) - 1).max() < 1e-6


def test_per_class_metrics_cover_every_class_in_the_holdout(model: FitResult, split) -> None:
    evaluation = evaluate(model.pipeline, split[1])
    assert set(split[1]["prdtypecode"]) <= set(evaluation.per_class["code"])
    assert evaluation.per_class["support"].sum() == len(split[1])
    assert 0.6 < evaluation.weighted_f1 < 0.99
    assert evaluation.confusion.to_numpy().sum() == len(split[1])
    pairs = most_confused(evaluation.confusion, top=5)
    assert len(pairs) == 5 and (pairs["true"] != pairs["predicted"]).all()
    assert evaluation.metrics()["f1_2583"] == pytest.approx(
        evaluation.per_class.set_index("code").loc[2583, "f1"]
    )


@pytest.mark.parametrize("classifier", ["logreg", "linear_svc", "sgd"])
def test_other_linear_models_train_and_give_probabilities(split, classifier: str) -> None:
    products, holdout = split
    config = TrainConfig(
        classifier=classifier, max_features=10_000, char_ngrams=False, max_iter=100
    )
    result = fit(config, products)
    assert evaluate(result.pipeline, holdout).weighted_f1 > 0.5
    assert result.pipeline.predict_proba(holdout[list(INPUT_COLUMNS)].head(3)).shape[0] == 3


def test_training_without_data_says_so() -> None:
    empty = pd.DataFrame(columns=[*INPUT_COLUMNS, "prdtypecode"])
    with pytest.raises(TrainingError, match="No products are loaded"):
        fit(TrainConfig(), empty)


def test_input_without_the_text_columns_is_refused(model: FitResult) -> None:
    with pytest.raises(ValueError, match="missing column"):
        model.pipeline.predict(pd.DataFrame({"title": ["x"]}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("c", 0),
        ("c", -1),
        ("max_features", 10),
        ("word_ngram_max", 4),
        ("max_iter", 0),
        ("classifier", "random_forest"),
        ("min_df", 0),
        ("char_ngram_min", 0),
        ("char_ngram_max", 7),
        ("char_text_limit", -1),
    ],
)
def test_out_of_range_hyperparameters_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_character_range_upside_down_is_refused() -> None:
    with pytest.raises(ValueError, match="char_ngram_min"):
        TrainConfig(char_ngram_min=5, char_ngram_max=3)


def test_presets_build(split) -> None:
    from core.train import PRESETS

    for config in PRESETS.values():
        assert build_pipeline(config).steps[-1][0] == "classifier"


def test_the_default_is_the_first_preset_and_reads_characters() -> None:
    from core.train import PRESETS

    assert next(iter(PRESETS.values())) == TrainConfig()
    assert TrainConfig().char_ngrams and TrainConfig().classifier == "svm_softmax"


def test_default_probabilities_are_a_tempered_softmax(model: FitResult, split) -> None:
    """The contract the API's compiled predictor relies on, through the whole pipeline."""
    from core.linear_softmax import softmax

    x = split[1][list(INPUT_COLUMNS)].head(50)
    features = model.pipeline[:-1].transform(x)
    svm = model.pipeline.steps[-1][1]
    scores = features @ svm.coef_.T + svm.intercept_
    expected = softmax(scores / svm.temperature_)
    assert abs(model.pipeline.predict_proba(x) - expected).max() < 1e-9


def test_character_ngrams_read_only_the_head_of_a_text() -> None:
    from core.train import text_head

    assert text_head("Piscine HORS Sol", 7) == "piscine"
    assert text_head("Piscine HORS Sol", 0) == "piscine hors sol"


@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "passes"),
    [
        (0.80, None, 0.0, True),
        (0.81, 0.80, 0.0, True),
        (0.80, 0.80, 0.0, True),
        (0.80001, 0.80004, 0.0, True),  # invisible at 4 decimals: a tie
        (0.79, 0.80, 0.0, False),
        (0.79, 0.80, 0.02, True),
        (None, 0.80, 0.0, False),
    ],
)
def test_promotion_gate(
    candidate: float | None, champion: float | None, margin: float, passes: bool
) -> None:
    from datetime import UTC, datetime

    from core.registry import VersionInfo, gate

    now = datetime.now(UTC)
    new = VersionInfo(2, "r2", (), now, candidate, 40.0)
    current = VersionInfo(1, "r1", ("champion",), now, champion, 40.0) if champion else None
    assert gate(new, current, margin).passed is passes
