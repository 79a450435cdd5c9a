"""The registry against a real MLflow tracking store and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sqlalchemy import Engine

from core import promotion, registry
from core.data.queries import TrainingData
from core.data.store import catalogue_digest
from core.data.synthetic import generate_catalogue
from core.evaluate import evaluate
from core.promotion import PromotionRefused
from core.registry import CHALLENGER, CHAMPION
from core.tracking import MODEL_NAME, LoggedRun, log_training_run
from core.train import INPUT_COLUMNS, TrainConfig, fit

GOOD = TrainConfig(max_features=20_000, word_ngram_max=1)
BAD = TrainConfig(max_features=1_000, word_ngram_max=1, c=0.001, max_iter=10)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def data() -> TrainingData:
    catalogue = generate_catalogue(6_000, seed=11)
    holdout = catalogue.groupby("prdtypecode", group_keys=False).sample(frac=0.15, random_state=0)
    products = catalogue.drop(holdout.index)
    return TrainingData(
        products, holdout, 10_000, len(products), catalogue_digest(products.productid)
    )


@pytest.fixture(scope="module")
def runs(tracking_uri: str, data: TrainingData) -> dict[str, tuple[LoggedRun, object]]:
    """One good and one poor run, logged once for the module."""
    logged = {}
    for name, config in (("good", GOOD), ("bad", BAD)):
        result = fit(config, data.products)
        evaluation = evaluate(result.pipeline, data.holdout)
        logged[name] = (
            log_training_run(tracking_uri, config, result, evaluation, data, run_name=name,
                             triggered_by="test"),
            result.pipeline,
        )  # fmt: skip
    return logged


@pytest.fixture
def client(tracking_uri: str, runs) -> Iterator[MlflowClient]:
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    yield client
    client.delete_registered_model(MODEL_NAME)


def register(client: MlflowClient, logged: LoggedRun) -> int:
    return registry.register(client, logged.model_uri, logged.run_id, logged.model_id)


def aliases(client: MlflowClient) -> dict[str, int]:
    return {a: int(v) for a, v in client.get_registered_model(MODEL_NAME).aliases.items()}


def test_register_promote_refuse_force_rollback(engine: Engine, client: MlflowClient, runs) -> None:
    good, bad = runs["good"][0], runs["bad"][0]
    v1 = register(client, good)
    assert aliases(client) == {CHALLENGER: v1}

    first = promotion.promote(engine, client, v1, margin=0.0, triggered_by="test")
    assert (first.action, first.from_version, first.to_version) == ("promote", None, v1)
    assert aliases(client) == {CHAMPION: v1}

    v2 = register(client, bad)
    with pytest.raises(PromotionRefused, match=rf"gate refused: v{v2} F1 0\.\d+ < v{v1} F1"):
        promotion.promote(engine, client, v2, margin=0.0, triggered_by="test")
    assert aliases(client)[CHAMPION] == v1
    with pytest.raises(PromotionRefused, match="needs a written reason"):
        promotion.promote(engine, client, v2, margin=0.0, triggered_by="t", force_reason="  ")

    forced = promotion.promote(
        engine, client, v2, margin=0.0, triggered_by="test", force_reason="demo of a rollback"
    )
    assert forced.action == "force" and aliases(client) == {CHAMPION: v2}

    back = promotion.rollback(engine, client, triggered_by="test")
    assert (back.from_version, back.to_version) == (v2, v1)
    assert aliases(client)[CHAMPION] == v1
    with pytest.raises(PromotionRefused, match="no earlier champion"):
        promotion.rollback(engine, client, triggered_by="test")

    with engine.connect() as conn:
        log = promotion.promotion_log_frame(conn)
    assert log["action"].tolist() == ["rollback", "force", "promote"]
    assert log["to_version"].tolist() == [v1, v2, v1]
    assert "demo of a rollback" in log.loc[1, "reason"]
    assert log.loc[2, "candidate_f1"] > log.loc[1, "candidate_f1"]


def test_a_margin_lets_a_slightly_worse_model_through(engine: Engine, client, runs) -> None:
    v1 = register(client, runs["bad"][0])
    v2 = register(client, runs["good"][0])
    promotion.promote(engine, client, v2, margin=0.0, triggered_by="test")
    versions = registry.list_versions(client)
    worse = next(v for v in versions if v.version == v1)
    gap = versions[0].weighted_f1 - worse.weighted_f1
    assert not registry.gate(worse, registry.champion(versions), margin=gap / 2).passed
    assert registry.gate(worse, registry.champion(versions), margin=gap + 0.01).passed


def test_champion_alias_loads_the_model_that_was_trained(
    engine: Engine, client: MlflowClient, runs, data: TrainingData, tracking_uri: str
) -> None:
    logged, pipeline = runs["good"]
    promotion.promote(engine, client, register(client, logged), margin=0, triggered_by="test")
    mlflow.set_tracking_uri(tracking_uri)
    served = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    features = data.holdout[list(INPUT_COLUMNS)]
    np.testing.assert_array_equal(served.predict(features), pipeline.predict(features))
    np.testing.assert_allclose(served.predict_proba(features), pipeline.predict_proba(features))
    # The pyfunc flavour (what generic MLflow serving uses) accepts the same frame.
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    assert list(pyfunc.predict(features.head(3))) == list(pipeline.predict(features.head(3)))


def test_champion_history_pushes_and_pops() -> None:
    log = pd.DataFrame(
        {"id": [1, 2, 3, 4, 5], "action": ["promote", "promote", "force", "rollback", "rollback"],
         "to_version": [1, 2, 3, 2, 1]}
    )  # fmt: skip
    assert promotion.champion_history(log.head(3)) == [1, 2, 3]
    assert promotion.champion_history(log) == [1]


def test_unknown_version_is_refused(engine: Engine, client: MlflowClient, runs) -> None:
    register(client, runs["good"][0])
    with pytest.raises(PromotionRefused, match="Version 99 .* does not exist"):
        promotion.promote(engine, client, 99, margin=0, triggered_by="test")


def test_concurrent_promotions_are_judged_one_after_the_other(
    engine: Engine, client: MlflowClient, runs
) -> None:
    import threading

    good, bad = runs["good"][0], runs["bad"][0]
    promotion.promote(engine, client, register(client, bad), margin=0, triggered_by="t")
    candidates = [register(client, good), register(client, good)]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def click(version: int) -> None:
        barrier.wait()
        try:
            outcomes.append(promotion.promote(engine, client, version, margin=0, triggered_by="t"))
        except PromotionRefused as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=click, args=(v,)) for v in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with engine.connect() as conn:
        log = promotion.promotion_log_frame(conn).sort_values("id")
    # Each promotion names the champion it replaced: the chain has no fork.
    assert log["from_version"].iloc[1:].tolist() == log["to_version"].iloc[:-1].tolist()
    assert aliases(client)[CHAMPION] == log["to_version"].iloc[-1]


def test_rollback_refuses_when_mlflow_and_the_log_disagree(
    engine: Engine, client: MlflowClient, runs
) -> None:
    v1 = register(client, runs["good"][0])
    v2 = register(client, runs["good"][0])
    promotion.promote(engine, client, v1, margin=0, triggered_by="t")
    promotion.promote(engine, client, v2, margin=0, triggered_by="t")
    v3 = register(client, runs["bad"][0])
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, str(v3))  # moved in the MLflow UI
    with pytest.raises(PromotionRefused, match=rf"MLflow's champion is v{v3}.*log ends at v{v2}"):
        promotion.rollback(engine, client, triggered_by="t")
    assert aliases(client)[CHAMPION] == v3


def test_a_version_whose_run_was_deleted_has_no_scores(client: MlflowClient, runs) -> None:
    version = registry.register(
        client, runs["good"][0].model_uri, "0" * 32, runs["good"][0].model_id
    )
    info = next(v for v in registry.list_versions(client) if v.version == version)
    assert info.weighted_f1 is None
