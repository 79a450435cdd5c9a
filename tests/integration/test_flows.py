"""The Prefect flows and both service managers, against a real Prefect server (test harness) and a
real MLflow tracking store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from app.managers.errors import NotFound, Rejected, ServiceUnavailable
from app.managers.experiments import MlflowManager
from app.managers.flows import PrefectManager
from core.data import loading
from core.data.store import import_products
from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.flows.data import load_data_flow
from core.flows.train import train_flow
from core.settings import Settings, get_settings
from core.train import TrainConfig, TrainingError

SMALL = TrainConfig(max_features=5_000, word_ngram_max=1)


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture
def settings(tmp_path, monkeypatch: pytest.MonkeyPatch, prefect_api: str) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAKUTEN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("RAKUTEN_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def import_catalogue(settings: Settings, load_bp: int | None = 10_000) -> None:
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    import_products(engine, generate_catalogue(3_000, seed=2), source="t", holdout_fraction=0.15,
                    seed=2)  # fmt: skip
    if load_bp:
        loading.initialize(engine, load_bp, "test")
    engine.dispose()


def test_train_flow_logs_registers_and_promotes(settings: Settings) -> None:
    import_catalogue(settings)
    first = train_flow(SMALL, triggered_by="test")
    assert first["promoted"] and first["version"] == 1
    assert first["gate"] == "gate passed: no champion yet"
    assert 0.5 < first["weighted_f1"] < 1
    second = train_flow(SMALL, auto_promote=False, triggered_by="test")
    assert (second["version"], second["promoted"]) == (2, False)
    assert second["gate"].startswith("auto-promotion off")

    client = MlflowClient(settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    run = client.get_run(first["run_id"])
    assert run.data.params["data_rows"] == str(first["data_rows"])
    assert run.data.params["data_stage_pct"] == "100.0"
    assert {"weighted_f1", "macro_f1", "accuracy", "fit_seconds", "f1_2583"} <= set(
        run.data.metrics
    )
    artifacts = {a.path for a in client.list_artifacts(first["run_id"], "evaluation")}
    assert {"evaluation/confusion_matrix.png", "evaluation/classification_report.txt"} <= artifacts

    engine = make_engine(settings.database_url)
    manager = MlflowManager(settings.mlflow_tracking_uri, engine, margin=0.0)
    runs = manager.runs()
    assert runs["version"].tolist() == [2, 1]
    assert runs["aliases"].tolist() == ["challenger", "champion"]
    detail = manager.run_detail(first["run_id"])
    assert detail.confusion.shape == (27, 27)
    assert set(detail.per_class["code"]) == set(detail.confusion.index)
    assert manager.gate(2).passed  # same data, same config: equal F1 passes
    assert manager.promote(2).to_version == 2
    assert manager.rollback().to_version == 1
    assert manager.promotion_log()["action"].tolist() == ["rollback", "promote", "promote"]
    engine.dispose()


def test_training_with_no_data_loaded_says_so(settings: Settings) -> None:
    import_catalogue(settings, load_bp=None)
    with pytest.raises(TrainingError, match="No products are loaded"):
        train_flow(SMALL)


def test_the_flow_refuses_out_of_range_hyperparameters(settings: Settings) -> None:
    import_catalogue(settings)
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match=r"(?s)config.*c.*greater than 0"):
        train_flow(config={"c": -1})  # type: ignore[arg-type]


def test_load_data_flow(settings: Settings) -> None:
    import_catalogue(settings, load_bp=None)
    assert load_data_flow("initialize")["stage_bp"] == 4_000
    assert load_data_flow("next_batch")["stage_bp"] == 4_300
    engine = make_engine(settings.database_url)
    while loading.load_next_batch(engine, 300, "t").target_bp < 10_000:
        pass
    engine.dispose()
    done = load_data_flow("next_batch")  # the weekly schedule must not fail once complete
    assert done["rows"] == 0 and "100 %" in done["message"]


def test_prefect_manager_triggers_and_reads_a_real_server(prefect_api: str) -> None:
    # _sync: Prefect picks sync or async by whether an event loop runs in this thread, and
    # another test's tool (Playwright) may have left one running.
    train_flow.to_deployment(name="train", _sync=True).apply(_sync=True)
    manager = PrefectManager(prefect_api)
    run = manager.trigger("train/train", {"config": SMALL.model_dump(), "triggered_by": "t"})
    assert run.state_type == "SCHEDULED" and not run.finished
    again = manager.flow_run(run.id)
    assert (again.id, again.flow) == (run.id, "train")
    recent = manager.recent_runs(limit=50)
    # Waiting for a worker, it is scheduled, not yet "a run that happened".
    assert run.id not in {r.id for r in recent}
    assert all(r.state_type != "SCHEDULED" for r in recent)
    assert manager.logs(run.id) == []
    with pytest.raises(Rejected, match=r"config\.c"):
        manager.trigger("train/train", {"config": {"c": -1}})
    with pytest.raises(NotFound, match="deployment nope/nope"):
        manager.trigger("nope/nope", {})


def test_unreachable_services_are_named() -> None:
    with pytest.raises(ServiceUnavailable, match=r"Prefect not reachable at http://127.0.0.1:1"):
        PrefectManager("http://127.0.0.1:1/api").recent_runs()
    engine = make_engine("sqlite://")
    with pytest.raises(ServiceUnavailable, match=r"MLflow not reachable at http://127.0.0.1:1"):
        MlflowManager("http://127.0.0.1:1", engine, 0.0).versions()
