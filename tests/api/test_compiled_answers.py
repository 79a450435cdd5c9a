"""The API's answers are the logged MLflow model's own probabilities, on a whole holdout.

The real path end to end: the default preset fitted on a small catalogue, logged and registered
in a real MLflow store, made champion, loaded by the API's follower (compiled at load), and asked
through ``POST /predict/batch``; every probability it lists equals ``predict_proba`` of the model
MLflow gives back for that version, to 1e-6.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.adapters.model_store import MlflowModelStore
from core.data.queries import TrainingData
from core.data.store import catalogue_digest
from core.data.synthetic import generate_catalogue
from core.evaluate import evaluate
from core.registry import CHAMPION
from core.train import INPUT_COLUMNS, TrainConfig, fit
from tests.api.conftest import TESTER, api_settings

CHUNK = 50  # the batch limit of the test settings


@pytest.fixture(scope="module")
def default_champion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """A store whose champion is the default preset fitted on 3,000 products; and the holdout."""
    root = tmp_path_factory.mktemp("compiled-answers")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    catalogue = generate_catalogue(3_000, seed=21)
    holdout = catalogue.groupby("prdtypecode", group_keys=False).sample(frac=0.15, random_state=1)
    products = catalogue.drop(holdout.index)
    data = TrainingData(
        products, holdout, 10_000, len(products), catalogue_digest(products.productid)
    )
    config = TrainConfig()
    result = fit(config, products)
    store = MlflowModelStore(tracking_uri)
    logged = store.log_run(
        config, result, evaluate(result.pipeline, holdout), data, run_name="default", actor=TESTER
    )
    store.set_alias(CHAMPION, store.register(logged))
    yield tracking_uri, holdout


def test_every_listed_probability_is_the_logged_models_own(
    default_champion: tuple[str, pd.DataFrame], tmp_path: Path
) -> None:
    tracking_uri, holdout = default_champion
    ref = MlflowModelStore(tracking_uri).champion_ref()
    mlflow.set_tracking_uri(tracking_uri)
    logged = mlflow.sklearn.load_model(ref.source)
    frame = holdout[list(INPUT_COLUMNS)].reset_index(drop=True)
    expected = logged.predict_proba(frame)
    column = {int(code): i for i, code in enumerate(logged.classes_)}

    settings = api_settings(tmp_path, tracking_uri)
    with TestClient(create_app(settings, flush_seconds=0.05)) as client:
        served = client.app.state.services.follower.current  # type: ignore[attr-defined]
        assert served is not None and served.version == ref.version
        assert served.compiled, "the default preset must be served by the compiled model"
        answers = []
        for start in range(0, len(frame), CHUNK):
            chunk = frame.iloc[start : start + CHUNK]
            body = {
                "products": [
                    {"designation": d, "description": e}
                    for d, e in zip(chunk.designation, chunk.description, strict=True)
                ],
                "top_k": 5,
            }
            response = client.post("/predict/batch", json=body)
            assert response.status_code == 200, response.text
            answers.extend(response.json()["predictions"])

    assert len(answers) == len(frame)
    worst = 0.0
    for i, answer in enumerate(answers):
        assert answer["code"] == int(logged.classes_[np.argmax(expected[i])]), i
        listed = [(c["code"], c["probability"]) for c in answer["top_k"]]
        assert [p for _, p in listed] == sorted((p for _, p in listed), reverse=True)
        for code, probability in listed:
            worst = max(worst, abs(probability - float(expected[i, column[code]])))
    assert worst <= 1e-6, f"an answer differs from predict_proba by {worst:.3g}"
    # ... and the top 5 are the model's 5 most probable classes (no other class is above them).
    fifth = np.sort(expected, axis=1)[:, -5]
    assert all(
        a["top_k"][-1]["probability"] >= f - 1e-6 for a, f in zip(answers, fifth, strict=True)
    )
