"""The Prefect flows and both service managers, against a real Prefect server (test harness) and a
real MLflow tracking store. The server is closed by an auth string, as local mode closes Prefect
with RAKUTEN_PREFECT_AUTH_STRING: every flow here runs through it."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient
from mlflow.models import get_model_info
from mlflow.pyfunc import get_model_dependencies
from pydantic import SecretStr

from app.managers.errors import Forbidden, NotFound, Rejected, ServiceUnavailable
from app.managers.experiments import ExperimentsManager
from app.managers.flows import PrefectManager
from app.managers.registry import RegistryManager
from core.access import Actor, Role
from core.adapters.flows import PrefectRest
from core.adapters.model_store import MlflowModelStore
from core.data import loading, queries
from core.data.store import import_products
from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.drift_store import drift_runs_frame
from core.flows.data import load_data_flow
from core.flows.monitor import monitor_flow
from core.flows.names import LOAD_DATA_DEPLOYMENT, MONITOR_DEPLOYMENT, TRAIN_DEPLOYMENT
from core.flows.serve import deployments
from core.flows.train import train_flow
from core.inference_log import InferenceRecord, record_feedback, write_records
from core.settings import Settings, get_settings
from core.train import TrainConfig, TrainingError
from tests.fakes_serving import FakePredictor

SMALL = TrainConfig(max_features=5_000, word_ngram_max=1)
TRAINER = Actor(subject="ana", via="local", role=Role.OPERATOR, name="Ana")
AUTH_STRING = SecretStr(f"control-room:{secrets.token_urlsafe(12)}")


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    """The harness's server requires ``AUTH_STRING`` (``PREFECT_SERVER_API_AUTH_STRING``) and this
    process sends it (``PREFECT_API_AUTH_STRING``), as the worker and its flows do in local mode."""
    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_URL,
        PREFECT_SERVER_API_AUTH_STRING,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    secret = AUTH_STRING.get_secret_value()
    lock = {PREFECT_SERVER_API_AUTH_STRING: secret, PREFECT_API_AUTH_STRING: secret}
    with temporary_settings(updates=lock), prefect_test_harness(server_startup_timeout=120):
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
    catalogue = generate_catalogue(3_000, seed=2)
    admin = Actor.local_admin()
    import_products(engine, catalogue, source="t", holdout_fraction=0.15, seed=2, actor=admin)
    if load_bp:
        loading.initialize(engine, load_bp, admin)
    engine.dispose()


def test_train_flow_logs_registers_and_promotes(settings: Settings) -> None:
    import_catalogue(settings)
    first = train_flow(SMALL, actor=TRAINER.as_params())
    assert first["promoted"] and first["version"] == 1
    assert first["gate"] == "gate passed: no champion yet"
    assert 0.5 < first["weighted_f1"] < 1
    second = train_flow(SMALL, auto_promote=False)  # no actor: the flow acts on its own
    assert (second["version"], second["promoted"]) == (2, False)
    assert second["gate"].startswith("auto-promotion off")

    client = MlflowClient(settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    run = client.get_run(first["run_id"])
    assert (
        run.data.tags["triggered_by"] == "Ana (local)" and run.data.tags["rakuten.actor"] == "ana"
    )
    assert client.get_run(second["run_id"]).data.tags["triggered_by"] == "train (flow)"
    assert run.data.params["data_rows"] == str(first["data_rows"])
    assert run.data.params["data_stage_pct"] == "100.0"
    assert {"weighted_f1", "macro_f1", "accuracy", "fit_seconds", "f1_2583"} <= set(
        run.data.metrics
    )
    artifacts = {a.path for a in client.list_artifacts(first["run_id"], "evaluation")}
    assert artifacts == {  # no static figure: the app draws the heatmap from the JSON
        "evaluation/classification_report.txt",
        "evaluation/confusion_matrix.json",
        "evaluation/per_class.json",
    }
    # The metrics, logged after the model, are the model's too; it keeps what serving needs.
    model_id = run.outputs.model_outputs[0].model_id
    model_metrics = {m.key: m.value for m in client.get_logged_model(model_id).metrics}
    assert model_metrics["weighted_f1"] == pytest.approx(first["weighted_f1"])
    info = get_model_info(f"models:/{model_id}")
    assert info.signature is not None and info.saved_input_example_info is not None
    requirements = Path(get_model_dependencies(f"models:/{model_id}")).read_text()
    assert f"scikit-learn=={version('scikit-learn')}" in requirements

    engine = make_engine(settings.database_url)
    store, api = MlflowModelStore(settings.mlflow_tracking_uri), FakePredictor()
    experiments, manager = ExperimentsManager(store), RegistryManager(store, api, engine, 0.0)
    runs = experiments.runs()
    assert runs["version"].tolist() == [2, 1]
    assert runs["aliases"].tolist() == ["challenger", "champion"]
    detail = experiments.run_detail(first["run_id"])
    assert detail.confusion.shape == (27, 27)
    assert set(detail.per_class["code"]) == set(detail.confusion.index)
    assert manager.gate(2).passed  # same data, same config: equal F1 passes
    assert manager.promote(2, TRAINER).promotion.to_version == 2
    with pytest.raises(Forbidden, match="needs the admin role"):  # an operator may not
        manager.rollback(TRAINER)
    assert manager.rollback(Actor.local_admin()).promotion.to_version == 1
    assert api.reloads == 2  # each change of champion asked the API to serve it
    log = manager.promotion_log()
    assert log["action"].tolist() == ["rollback", "promote", "promote"]
    assert log["triggered_by"].tolist() == ["local admin (local)", "Ana (local)", "Ana (local)"]
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
        first = train_flow(SMALL)
        assert first["promoted"] and first["serving"] == "The API now serves v1."
        # The flow only asks (no wait for the model load): its run ends once the alias moved.
        assert _ReloadRecorder.calls == [("/model/reload?wait=false", "Bearer secret")]
        second = train_flow(SMALL, auto_promote=False)
        assert not second["promoted"] and second["serving"] == ""
        assert len(_ReloadRecorder.calls) == 1  # nothing moved: nothing to reload
    finally:
        server.shutdown()
    third = train_flow(SMALL)  # equal F1 passes the gate; the API is gone: never fails the flow
    assert (
        third["promoted"]
        and "The API did not reload (Predictor API not reachable" in (third["serving"])
    )


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
    operator = Actor(subject="ops", via="local", role=Role.OPERATOR, name="Ops")
    assert load_data_flow("next_batch", actor=operator.as_params())["stage_bp"] == 4_300
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        # Without an actor the schedule acts; with one, the person who triggered the run.
        who = queries.load_history_frame(conn)["triggered_by"].tolist()
    assert who == ["load-data (schedule)", "Ops (local)"]
    while loading.load_next_batch(engine, 300, Actor.os_user()).target_bp < 10_000:
        pass
    engine.dispose()
    done = load_data_flow("next_batch")  # the weekly schedule must not fail once complete
    assert done["rows"] == 0 and "100 %" in done["message"]


def test_prefect_manager_triggers_and_reads_a_real_server(prefect_api: str) -> None:
    # _sync: Prefect picks sync or async by whether an event loop runs in this thread, and
    # another test's tool (Playwright) may have left one running.
    train_flow.to_deployment(name="train", _sync=True).apply(_sync=True)
    manager = PrefectManager(PrefectRest(prefect_api, auth_string=AUTH_STRING))
    someone = Actor.os_user()
    run = manager.trigger("train/train", {"config": SMALL.model_dump()}, someone)
    assert run.state_type == "SCHEDULED" and not run.finished
    again = manager.flow_run(run.id)
    assert (again.id, again.flow) == (run.id, "train")
    recent = manager.recent_runs(limit=50)
    # Waiting for a worker, it is scheduled, not yet "a run that happened".
    assert run.id not in {r.id for r in recent}
    assert all(r.state_type != "SCHEDULED" for r in recent)
    followed = manager.progress(run.id)  # what the page's panel shows: live, no logs yet
    assert followed.live and followed.logs == () and not followed.error
    with pytest.raises(Rejected, match=r"config\.c"):
        manager.trigger("train/train", {"config": {"c": -1}}, someone)
    with pytest.raises(NotFound, match="deployment nope/nope"):
        manager.trigger("nope/nope", {}, someone)


def test_unreachable_services_are_named() -> None:
    with pytest.raises(ServiceUnavailable, match=r"Prefect not reachable at http://127.0.0.1:1"):
        PrefectManager(PrefectRest("http://127.0.0.1:1/api")).recent_runs()
    engine = make_engine("sqlite://")
    with pytest.raises(ServiceUnavailable, match=r"MLflow not reachable at http://127.0.0.1:1"):
        RegistryManager(
            MlflowModelStore("http://127.0.0.1:1"), FakePredictor(), engine, 0
        ).versions()


def log_traffic(settings: Settings, products, hours_ago: float = 1.0) -> None:
    """Predictions as the API logs them, made by the champion an hour ago."""
    store = MlflowModelStore(settings.mlflow_tracking_uri)
    pipeline = store.load_pipeline(store.version_ref(1))
    probabilities = pipeline.predict_proba(products[["designation", "description"]])
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    engine = make_engine(settings.database_url)
    write_records(
        engine,
        [
            InferenceRecord(
                f"r{i}",
                at,
                p.designation,
                p.description,
                int(pipeline.classes_[row.argmax()]),
                float(row.max()),
                1,
                2.0,
                "predict",
            )
            for i, (p, row) in enumerate(zip(products.itertuples(), probabilities, strict=True))
        ],
    )
    engine.dispose()


def test_monitor_retrains_only_above_the_threshold(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert monitor_flow()["verdict"] == "no champion"
    import_catalogue(settings)
    train_flow(SMALL)  # v1, champion
    assert monitor_flow()["verdict"] == "not enough traffic"
    catalogue = generate_catalogue(3_000, seed=2)
    summer = catalogue[catalogue.prdtypecode.isin([2583, 2582])]
    log_traffic(settings, summer.sample(400, replace=True, random_state=1))

    calm = monitor_flow(threshold=0.99)  # a threshold nothing passes: report, no retrain
    assert calm["verdict"] == "no drift" and calm["trained"] is None
    assert "predicted_code" in calm["drifted_columns"]
    idle = monitor_flow(threshold=0.05)  # drift, but nothing new to learn from: no retrain
    assert idle["verdict"] == "drift" and idle["trained"] is None
    assert idle["decision"].startswith("drift: nothing new to learn from — v1 was trained on ")
    engine = make_engine(settings.database_url)
    for i in range(5):  # people label five predictions: something new
        record_feedback(engine, f"r{i}", 2583, TRAINER)
    engine.dispose()
    wave = monitor_flow(threshold=0.05)
    assert wave["verdict"] == "drift" and wave["trained"]["version"] == 2
    assert wave["decision"].startswith("drift: retrained on ")
    assert " feedback since v1) as v2, " in wave["decision"]  # some may be holdout products
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        runs = drift_runs_frame(conn)
    engine.dispose()
    assert list(runs.verdict) == ["drift", "drift", "no drift"]
    assert list(runs.decision) == [wave["decision"], idle["decision"], "no drift: nothing to do"]
    assert all((settings.var_dir / "drift" / f).exists() for f in runs.report_file)


def test_the_worker_serves_every_deployment_with_its_schedule(prefect_api: str) -> None:
    for deployment in deployments():
        deployment.apply(_sync=True)
    crons = {}
    for name in (TRAIN_DEPLOYMENT, LOAD_DATA_DEPLOYMENT, MONITOR_DEPLOYMENT):
        url = f"{prefect_api}/deployments/name/{name}"
        found = requests.get(url, auth=_basic(AUTH_STRING), timeout=10).json()
        crons[name] = [s["schedule"].get("cron") for s in found["schedules"]]
    assert crons == {
        TRAIN_DEPLOYMENT: [],
        LOAD_DATA_DEPLOYMENT: ["0 6 * * 1"],
        MONITOR_DEPLOYMENT: ["0 9 * * *"],
    }


def test_prefect_manager_lists_deployments_and_pauses_them(prefect_api: str) -> None:
    for deployment in deployments():
        deployment.apply(_sync=True)
    manager = PrefectManager(PrefectRest(prefect_api, auth_string=AUTH_STRING))
    found = {d.name: d for d in manager.deployments()}
    assert found[MONITOR_DEPLOYMENT].schedules == ("0 9 * * *",)
    assert found[TRAIN_DEPLOYMENT].schedules == () and not found[MONITOR_DEPLOYMENT].paused
    manager.set_paused(MONITOR_DEPLOYMENT, True, Actor.os_user())
    assert {d.name: d.paused for d in manager.deployments()}[MONITOR_DEPLOYMENT] is True
    manager.set_paused(MONITOR_DEPLOYMENT, False, Actor.os_user())
    assert {d.name: d.paused for d in manager.deployments()}[MONITOR_DEPLOYMENT] is False
    with pytest.raises(NotFound, match="deployment nope/nope"):
        manager.set_paused("nope/nope", True, Actor.os_user())


def test_the_prefect_server_lets_in_only_its_auth_string(prefect_api: str) -> None:
    with pytest.raises(Rejected, match=r"asks for an auth string: set RAKUTEN_PREFECT_AUTH_STRING"):
        PrefectManager(PrefectRest(prefect_api)).recent_runs()
    wrong = PrefectManager(PrefectRest(prefect_api, auth_string=SecretStr("control-room:nope")))
    with pytest.raises(Rejected, match="refused the control room's auth string") as caught:
        wrong.deployments()
    assert prefect_api in str(caught.value) and "nope" not in str(caught.value)
    assert requests.post(f"{prefect_api}/flows/filter", json={}, timeout=10).status_code == 401
    # What the supervisor and the Infrastructure page probe stays open.
    assert requests.get(f"{prefect_api}/health", timeout=10).status_code == 200


def _basic(auth_string: SecretStr) -> tuple[str, str]:
    user, password = auth_string.get_secret_value().split(":", 1)
    return user, password
