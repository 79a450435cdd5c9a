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
from core.access import Actor
from core.adapters.errors import Missing, Unreachable
from core.adapters.model_store import MlflowModelStore
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
TESTER = Actor.os_user()


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
            log_training_run(
                tracking_uri, config, result, evaluation, data, run_name=name, actor=TESTER
            ),
            result.pipeline,
        )
    return logged


@pytest.fixture
def client(tracking_uri: str, runs) -> Iterator[MlflowClient]:
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    yield client
    client.delete_registered_model(MODEL_NAME)


@pytest.fixture
def store(tracking_uri: str, client: MlflowClient) -> MlflowModelStore:
    """The adapter under test; ``client`` stays to look at MLflow behind its back."""
    return MlflowModelStore(tracking_uri)


def aliases(client: MlflowClient) -> dict[str, int]:
    return {a: int(v) for a, v in client.get_registered_model(MODEL_NAME).aliases.items()}


def test_register_promote_refuse_force_rollback(
    engine: Engine, client: MlflowClient, store: MlflowModelStore, runs
) -> None:
    good, bad = runs["good"][0], runs["bad"][0]
    v1 = store.register(good)
    assert aliases(client) == {CHALLENGER: v1}

    first = promotion.promote(engine, store, v1, margin=0.0, actor=TESTER)
    assert (first.action, first.from_version, first.to_version) == ("promote", None, v1)
    assert aliases(client) == {CHAMPION: v1}

    v2 = store.register(bad)
    with pytest.raises(PromotionRefused, match=rf"gate refused: v{v2} F1 0\.\d+ < v{v1} F1"):
        promotion.promote(engine, store, v2, margin=0.0, actor=TESTER)
    assert aliases(client)[CHAMPION] == v1
    with pytest.raises(PromotionRefused, match="needs a written reason"):
        promotion.promote(engine, store, v2, margin=0.0, actor=TESTER, force_reason="  ")

    forced = promotion.promote(
        engine, store, v2, margin=0.0, actor=TESTER, force_reason="demo of a rollback"
    )
    assert forced.action == "force" and aliases(client) == {CHAMPION: v2}

    back = promotion.rollback(engine, store, actor=TESTER)
    assert (back.from_version, back.to_version) == (v2, v1)
    assert aliases(client)[CHAMPION] == v1
    with pytest.raises(PromotionRefused, match="no earlier champion"):
        promotion.rollback(engine, store, actor=TESTER)

    with engine.connect() as conn:
        log = promotion.promotion_log_frame(conn)
    assert log["action"].tolist() == ["rollback", "force", "promote"]
    assert log["to_version"].tolist() == [v1, v2, v1]
    assert "demo of a rollback" in log.loc[1, "reason"]
    assert set(log["triggered_by"]) == {TESTER.label}  # the log names who acted
    assert log.loc[2, "candidate_f1"] > log.loc[1, "candidate_f1"]


def test_a_margin_lets_a_slightly_worse_model_through(
    engine: Engine, store: MlflowModelStore, runs
) -> None:
    v1 = store.register(runs["bad"][0])
    v2 = store.register(runs["good"][0])
    promotion.promote(engine, store, v2, margin=0.0, actor=TESTER)
    versions = store.versions()
    worse = next(v for v in versions if v.version == v1)
    gap = versions[0].weighted_f1 - worse.weighted_f1
    assert not registry.gate(worse, registry.champion(versions), margin=gap / 2).passed
    assert registry.gate(worse, registry.champion(versions), margin=gap + 0.01).passed


def test_champion_alias_loads_the_model_that_was_trained(
    engine: Engine, store: MlflowModelStore, runs, data: TrainingData, tracking_uri: str
) -> None:
    logged, pipeline = runs["good"]
    promotion.promote(engine, store, store.register(logged), margin=0, actor=TESTER)
    mlflow.set_tracking_uri(tracking_uri)
    served = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    features = data.holdout[list(INPUT_COLUMNS)]
    np.testing.assert_array_equal(served.predict(features), pipeline.predict(features))
    np.testing.assert_allclose(served.predict_proba(features), pipeline.predict_proba(features))
    # The pyfunc flavour (what generic MLflow serving uses) accepts the same frame.
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    assert list(pyfunc.predict(features.head(3))) == list(pipeline.predict(features.head(3)))
    # The adapter loads the version the alias points at, as the API and the monitor flow do.
    loaded = store.load_pipeline(store.champion_ref())
    np.testing.assert_array_equal(loaded.predict(features), pipeline.predict(features))


def test_runs_carry_who_trained_them(tracking_uri: str, runs) -> None:
    store = MlflowModelStore(tracking_uri)
    tags = store.run(runs["good"][0].run_id).tags
    assert tags["triggered_by"] == TESTER.label
    assert (tags["rakuten.actor"], tags["rakuten.actor_via"]) == (TESTER.subject, "cli")
    assert tags["rakuten.actor_role"] == "admin"
    assert {r.run_id for r in store.runs()} >= {runs["good"][0].run_id, runs["bad"][0].run_id}


def test_the_store_names_what_is_missing_or_unreachable(tracking_uri: str, runs) -> None:
    store = MlflowModelStore(tracking_uri)  # nothing registered
    with pytest.raises(Missing, match="no champion yet"):
        store.champion_ref()
    with pytest.raises(Missing):
        store.run("0" * 32)
    with pytest.raises(Unreachable, match=r"MLflow not reachable at http://127\.0\.0\.1:1 "):
        MlflowModelStore("http://127.0.0.1:1").check_reachable()


def test_champion_history_pushes_and_pops() -> None:
    log = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "action": ["promote", "promote", "force", "rollback", "rollback"],
            "to_version": [1, 2, 3, 2, 1],
        }
    )
    assert promotion.champion_history(log.head(3)) == [1, 2, 3]
    assert promotion.champion_history(log) == [1]


def test_unknown_version_is_refused(engine: Engine, store: MlflowModelStore, runs) -> None:
    store.register(runs["good"][0])
    with pytest.raises(PromotionRefused, match="Version 99 .* does not exist"):
        promotion.promote(engine, store, 99, margin=0, actor=TESTER)


def test_concurrent_promotions_are_judged_one_after_the_other(
    engine: Engine, client: MlflowClient, store: MlflowModelStore, runs
) -> None:
    import threading

    good, bad = runs["good"][0], runs["bad"][0]
    promotion.promote(engine, store, store.register(bad), margin=0, actor=TESTER)
    candidates = [store.register(good), store.register(good)]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def click(version: int) -> None:
        barrier.wait()
        try:
            outcomes.append(promotion.promote(engine, store, version, margin=0, actor=TESTER))
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
    engine: Engine, client: MlflowClient, store: MlflowModelStore, runs
) -> None:
    v1 = store.register(runs["good"][0])
    v2 = store.register(runs["good"][0])
    promotion.promote(engine, store, v1, margin=0, actor=TESTER)
    promotion.promote(engine, store, v2, margin=0, actor=TESTER)
    v3 = store.register(runs["bad"][0])
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, str(v3))  # moved in the MLflow UI
    with pytest.raises(PromotionRefused, match=rf"MLflow's champion is v{v3}.*log ends at v{v2}"):
        promotion.rollback(engine, store, actor=TESTER)
    assert aliases(client)[CHAMPION] == v3


def test_a_version_whose_run_was_deleted_has_no_scores(store: MlflowModelStore, runs) -> None:
    good = runs["good"][0]
    version = store.register(LoggedRun("0" * 32, good.model_uri, good.model_id))
    info = next(v for v in store.versions() if v.version == version)
    assert info.weighted_f1 is None
