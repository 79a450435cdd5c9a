"""The Prefect flows and both service managers, against a real Prefect server (test harness) and a
real MLflow tracking store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import pytest
import requests
from mlflow import MlflowClient

from app.managers.errors import NotFound, Rejected, ServiceUnavailable
from app.managers.experiments import MlflowManager
from app.managers.flows import PrefectManager
from core.data import loading
from core.data.store import import_products
from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.drift_store import drift_runs_frame
from core.flows.data import load_data_flow
from core.flows.monitor import monitor_flow
from core.flows.names import LOAD_DATA_DEPLOYMENT, MONITOR_DEPLOYMENT, TRAIN_DEPLOYMENT
from core.flows.serve import deployments
from core.flows.train import ask_api_to_reload, train_flow
from core.inference_log import InferenceRecord, write_records
from core.settings import Settings, get_settings
from core.tracking import MODEL_NAME
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


class _ReloadRecorder(BaseHTTPRequestHandler):
    """A stand-in predictor API that records reload calls."""

    calls: list[tuple[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.calls.append((self.path, self.headers.get("Authorization", "")))
        body = json.dumps({"model_loaded": True, "model": {"version": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def test_an_auto_promotion_asks_the_api_to_reload(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ReloadRecorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _ReloadRecorder.calls = []
    monkeypatch.setenv("RAKUTEN_API_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("RAKUTEN_API_TOKEN", "secret")
    get_settings.cache_clear()
    try:
        import_catalogue(settings)
        assert train_flow(SMALL, triggered_by="test")["promoted"]
        assert _ReloadRecorder.calls == [("/model/reload", "Bearer secret")]
        assert not train_flow(SMALL, auto_promote=False, triggered_by="test")["promoted"]
        assert len(_ReloadRecorder.calls) == 1  # nothing moved: nothing to reload
        assert ask_api_to_reload(get_settings()) == "reloaded, serving v1"
    finally:
        server.shutdown()
    assert "not reachable" in ask_api_to_reload(get_settings())  # never fails the flow
    assert "reload disabled" in ask_api_to_reload(Settings(api_token=""))


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


def log_traffic(settings: Settings, products, hours_ago: float = 1.0) -> None:
    """Predictions as the API logs them, made by the champion an hour ago."""
    client = MlflowClient(settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    source = client.get_model_version(MODEL_NAME, "1").source
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    pipeline = mlflow.sklearn.load_model(source)
    probabilities = pipeline.predict_proba(products[["designation", "description"]])
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    engine = make_engine(settings.database_url)
    write_records(engine, [
        InferenceRecord(f"r{i}", at, p.designation, p.description,
                        int(pipeline.classes_[row.argmax()]), float(row.max()), 1, 2.0, "predict")
        for i, (p, row) in enumerate(zip(products.itertuples(), probabilities, strict=True))
    ])  # fmt: skip
    engine.dispose()


def test_monitor_retrains_only_above_the_threshold(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert monitor_flow()["verdict"] == "no champion"
    import_catalogue(settings)
    train_flow(SMALL, triggered_by="test")  # v1, champion
    assert monitor_flow()["verdict"] == "not enough traffic"
    catalogue = generate_catalogue(3_000, seed=2)
    summer = catalogue[catalogue.prdtypecode.isin([2583, 2582])]
    log_traffic(settings, summer.sample(400, replace=True, random_state=1))

    calm = monitor_flow(threshold=0.99)  # a threshold nothing passes: report, no retrain
    assert calm["verdict"] == "no drift" and calm["trained"] is None
    assert "predicted_code" in calm["drifted_columns"]
    wave = monitor_flow(threshold=0.05)
    assert wave["verdict"] == "drift" and wave["trained"]["version"] == 2
    assert wave["decision"].startswith("drift: retrained as v2, ")
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        runs = drift_runs_frame(conn)
    engine.dispose()
    assert list(runs.verdict) == ["drift", "no drift"]
    assert list(runs.decision) == [wave["decision"], "no drift: nothing to do"]
    assert all((settings.var_dir / "drift" / f).exists() for f in runs.report_file)


def test_the_worker_serves_every_deployment_with_its_schedule(prefect_api: str) -> None:
    for deployment in deployments():
        deployment.apply(_sync=True)
    crons = {}
    for name in (TRAIN_DEPLOYMENT, LOAD_DATA_DEPLOYMENT, MONITOR_DEPLOYMENT):
        found = requests.get(f"{prefect_api}/deployments/name/{name}", timeout=10).json()
        crons[name] = [s["schedule"].get("cron") for s in found["schedules"]]
    assert crons == {
        TRAIN_DEPLOYMENT: [], LOAD_DATA_DEPLOYMENT: ["0 6 * * 1"],
        MONITOR_DEPLOYMENT: ["0 9 * * *"],
    }  # fmt: skip


def test_prefect_manager_lists_deployments_and_pauses_them(prefect_api: str) -> None:
    for deployment in deployments():
        deployment.apply(_sync=True)
    manager = PrefectManager(prefect_api)
    found = {d.name: d for d in manager.deployments()}
    assert found[MONITOR_DEPLOYMENT].schedules == ("0 9 * * *",)
    assert found[TRAIN_DEPLOYMENT].schedules == () and not found[MONITOR_DEPLOYMENT].paused
    manager.set_paused(MONITOR_DEPLOYMENT, True)
    assert {d.name: d.paused for d in manager.deployments()}[MONITOR_DEPLOYMENT] is True
    manager.set_paused(MONITOR_DEPLOYMENT, False)
    assert {d.name: d.paused for d in manager.deployments()}[MONITOR_DEPLOYMENT] is False
    with pytest.raises(NotFound, match="deployment nope/nope"):
        manager.set_paused("nope/nope", True)
