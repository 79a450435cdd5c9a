"""A drift-triggered retrain learns from what is new, or does not start: the monitor flow against a
real Prefect server (test harness), a real MLflow tracking store and a real database.

Refitting the champion's own data gives the champion back (issue 16: "v2 F1 0.8330 ≥ v1 F1
0.8330"), so with nothing new the monitor says so instead of training; predictions labelled on the
Predictions page, or the next batch (``RAKUTEN_RETRAIN_LOAD_NEXT_BATCH``), are what a retrain
learns from.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient
from sqlalchemy import Engine

from core.access import Actor
from core.adapters.model_store import MlflowModelStore
from core.data import loading
from core.data.queries import load_history_frame, training_data
from core.data.store import import_products
from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.drift_store import DriftSummary, drift_runs_frame
from core.flows import monitor
from core.flows.monitor import monitor_flow
from core.flows.names import MONITOR_DEPLOYMENT
from core.flows.train import train_flow
from core.inference_log import InferenceRecord, record_feedback, write_records
from core.settings import Settings, get_settings
from tests.prefect_stack import SMALL, prefect_server

CATALOGUE = generate_catalogue(1_500, seed=2)
SUMMER = CATALOGUE[CATALOGUE.prdtypecode.isin([2583, 2582])].sample(60, random_state=1)
MONITOR = Actor.schedule(MONITOR_DEPLOYMENT)
DRIFT = 0.30
CARDS = 1160


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    with prefect_server() as url:
        yield url


def summer_wave(
    pipeline: Any, reference: pd.DataFrame, window: pd.DataFrame, threshold: float
) -> tuple[DriftSummary, str]:
    """The drift check's verdict on a summer wave, without Evidently's 13 s a check (the check
    itself is tested in test_flows.py and test_monitoring.py): what matters here is what the
    monitor does after it."""
    drifted = ("predicted_code", "title_words")
    summary = DriftSummary(0.78, drifted, {}, threshold, len(reference), len(window))
    return summary, "<html>summer wave</html>"


@pytest.fixture
def settings(tmp_path, monkeypatch: pytest.MonkeyPatch, prefect_api: str) -> Iterator[Settings]:
    monkeypatch.setattr(monitor, "check_drift", summer_wave)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAKUTEN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("RAKUTEN_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("RAKUTEN_API_URL", "http://127.0.0.1:1")  # no API: a promotion says so
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def champion_v1(settings: Settings, load_bp: int) -> int:
    """The catalogue imported and loaded to ``load_bp``, v1 trained on it and promoted, and a
    summer wave of predictions logged; the number of loaded products."""
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    admin = Actor.local_admin()
    import_products(engine, CATALOGUE, source="t", holdout_fraction=0.15, seed=2, actor=admin)
    loaded = loading.initialize(engine, load_bp, admin).cumulative_rows
    assert train_flow(SMALL)["promoted"]
    at = datetime.now(UTC) - timedelta(hours=1)
    records = [
        InferenceRecord(f"r{i}", at, p.designation, p.description, 1280, 0.5, 1, 2.0, "predict")
        for i, p in enumerate(SUMMER.itertuples())
    ]
    write_records(engine, records)
    engine.dispose()
    return loaded


def decisions(settings: Settings) -> list[str]:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        found = drift_runs_frame(conn)
    engine.dispose()
    return list(found.decision)[::-1]


def test_nothing_new_is_not_retrained_and_feedback_is_learnt(settings: Settings) -> None:
    loaded = champion_v1(settings, 4_000)
    client = MlflowClient(settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)

    idle = monitor_flow(threshold=DRIFT)
    assert idle["verdict"] == "drift" and idle["trained"] is None
    assert idle["decision"] == (
        f"drift: nothing new to learn from — v1 was trained on the same {loaded:,} loaded "
        "products and 0 feedback products; label predictions on the Predictions page or load "
        "the next batch"
    )
    assert idle["new_data"] == "" and idle["batch_rows"] == 0
    assert len(client.search_model_versions("name = 'rakuten-product-classifier'")) == 1

    # People mark the true category of twelve summer predictions (one twice: it counts once)
    # and of eight products of a brand no catalogue product names: trading cards.
    engine = make_engine(settings.database_url)
    for i, product in enumerate(SUMMER.head(12).itertuples()):
        record_feedback(engine, f"r{i}", int(product.prdtypecode), MONITOR)
    record_feedback(engine, "r0", int(SUMMER.iloc[0].prdtypecode), MONITOR)
    at = datetime.now(UTC) - timedelta(minutes=30)
    novel = [f"Zorblax vrinkel {k}" for k in range(8)]
    asked = [
        InferenceRecord(f"z{k}", at, title, "", 1280, 0.4, 1, 2.0, "predict")
        for k, title in enumerate(novel)
    ]
    write_records(engine, asked)
    for k in range(len(novel)):
        record_feedback(engine, f"z{k}", CARDS, MONITOR)
    with engine.connect() as conn:
        snapshot = training_data(conn)
    engine.dispose()
    n = len(snapshot.feedback)  # a summer product may be a holdout product: never learnt from
    assert n >= 16 and n + snapshot.feedback_held_out == 20

    learnt = monitor_flow(threshold=DRIFT)
    trained = learnt["trained"]
    assert (trained["version"], trained["data_rows"], trained["feedback_rows"]) == (2, loaded, n)
    assert learnt["decision"].startswith(
        f"drift: retrained on {loaded:,} loaded + {n} feedback products (+{n} feedback since v1) "
        "as v2, "
    )
    assert learnt["new_data"] == f"+{n} feedback since v1"
    run = client.get_run(trained["run_id"])
    assert run.data.params["data_rows"] == str(loaded)  # the loaded count, as before
    assert run.data.params["feedback_rows"] == str(n)
    assert run.data.params["feedback_digest"] == snapshot.feedback_digest[:16]
    assert run.data.tags["feedback_digest"] == snapshot.feedback_digest
    versions = MlflowModelStore(settings.mlflow_tracking_uri).versions()
    assert [v.learnt_from for v in versions] == [
        f"{loaded:,} loaded + {n} feedback products",
        f"{loaded:,} loaded + 0 feedback products",
    ]
    assert decisions(settings) == [idle["decision"], learnt["decision"]]
    # v2 learnt what people taught it; v1 never saw the brand.
    store = MlflowModelStore(settings.mlflow_tracking_uri)
    unseen = pd.DataFrame({"designation": ["Zorblax vrinkel 99"], "description": [""]})
    assert store.load_pipeline(store.version_ref(2)).predict(unseen)[0] == CARDS
    assert store.load_pipeline(store.version_ref(1)).predict(unseen)[0] != CARDS


def test_the_setting_loads_the_next_batch_before_retraining(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAKUTEN_RETRAIN_LOAD_NEXT_BATCH", "true")
    monkeypatch.setenv("RAKUTEN_PROMOTION_MARGIN", "1")  # v2 becomes champion whatever it scores
    get_settings.cache_clear()
    loaded = champion_v1(settings, 9_800)  # one batch (3 %) from everything

    grown = monitor_flow(threshold=DRIFT)
    batch = grown["batch_rows"]
    assert batch > 0 and grown["trained"]["data_rows"] == loaded + batch
    assert grown["trained"]["promoted"]
    assert f"(+{batch:,} loaded since v1) as v2, promoted to champion" in grown["decision"]
    engine = make_engine(settings.database_url)
    history = loading_history(engine)
    assert history[-1] == ("next_batch", batch, 10_000, MONITOR.label)

    # Everything is loaded now and v2 learnt it all: the monitor goes on and says so.
    done = monitor_flow(threshold=DRIFT)
    assert done["trained"] is None and done["batch_rows"] == 0
    assert done["decision"] == (
        f"drift: nothing new to learn from — v2 was trained on the same {loaded + batch:,} "
        "loaded products and 0 feedback products; label predictions on the Predictions page"
    )
    assert len(loading_history(engine)) == len(history)  # nothing more was loaded
    engine.dispose()


def loading_history(engine: Engine) -> list[tuple[str, int, int, str]]:
    with engine.connect() as conn:
        frame: pd.DataFrame = load_history_frame(conn)
    return list(frame[["action", "rows", "target_bp", "triggered_by"]].itertuples(False, None))
