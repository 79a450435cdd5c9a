"""MLflow closed as local mode closes it: a real `mlflow server --app-name basic-auth`, started by
the supervisor from the spec `make run` uses. The model store and the app's managers work through
it with the service credentials from the settings; anyone else is refused, and a wrong or missing
credential reads as words. (Prefect's auth string: tests/integration/test_flows.py, whose server
requires one.)"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
from pydantic import SecretStr

from app.managers.errors import ManagerError
from app.managers.experiments import ExperimentsManager
from app.managers.registry import RegistryManager
from core.access import Actor, Role
from core.adapters.model_store import model_store
from core.data.queries import TrainingData
from core.data.store import catalogue_digest
from core.db.engine import make_engine
from core.evaluate import evaluate
from core.local_stack import local_services
from core.processes import group_members
from core.settings import Settings
from core.supervisor import Supervisor
from core.train import TrainConfig, fit
from tests.fakes_serving import FakePredictor
from tests.ports import free_port

SMALL = TrainConfig(max_features=5_000, word_ngram_max=1)
OPERATOR = Actor("olga", "oidc", Role.OPERATOR, email="olga@example.org")
ADMIN = Actor("adam", "oidc", Role.ADMIN, email="adam@example.org")
MLFLOW_LOGIN = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """MLflow as `make run` starts it with the service credentials set; the settings every process
    of the control room reads."""
    var = tmp_path_factory.mktemp("closed")
    settings = Settings(
        _env_file=None,  # a developer's .env must not change what is tested
        var_dir=var,
        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}",
        mlflow_username="control-room",
        mlflow_password=SecretStr(secrets.token_urlsafe(18)),
    )
    supervisor = Supervisor(var, [s for s in local_services(settings) if s.name == "mlflow"])
    with pytest.MonkeyPatch.context() as patch:
        for name in MLFLOW_LOGIN:  # model_store sets them: recorded here, put back at the end
            patch.setenv(name, "")
            patch.delenv(name)
        try:
            # The supervisor's health probe answers behind the lock, or this never returns.
            supervisor.start_in_order(["mlflow"], timeout=150)
            yield settings
        finally:
            supervisor.stop("mlflow")


@pytest.fixture
def mlflow_login() -> Iterator[None]:
    """MLflow's client credentials (process-wide) put back after a test that changes them."""
    saved = {name: os.environ.get(name) for name in MLFLOW_LOGIN}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_anyone_else_is_refused(closed: Settings) -> None:
    search = f"{closed.mlflow_tracking_uri}/api/2.0/mlflow/experiments/search?max_results=5"
    assert requests.get(search, timeout=30).status_code == 401
    guess = requests.get(search, auth=("control-room", "not-the-password"), timeout=30)
    assert guess.status_code == 401
    # What the supervisor and the Infrastructure page probe stays open.
    assert requests.get(f"{closed.mlflow_tracking_uri}/health", timeout=10).status_code == 200


def test_the_store_and_the_managers_work_through_the_lock(
    closed: Settings, catalogue: pd.DataFrame, mlflow_login: None
) -> None:
    # Built as app/bootstrap.py, the API and the flows build it: the credentials from the settings.
    store = model_store(
        closed.mlflow_tracking_uri, "app", closed.mlflow_username, closed.mlflow_password
    )
    holdout = catalogue.groupby("prdtypecode", group_keys=False).sample(frac=0.15, random_state=0)
    products = catalogue.drop(holdout.index)
    data = TrainingData(
        products, holdout, 10_000, len(products), catalogue_digest(products.productid)
    )
    result = fit(SMALL, products)
    evaluation = evaluate(result.pipeline, holdout)
    # What the train flow's tasks do: log the run (params, artifacts, model), register it.
    logged = store.log_run(SMALL, result, evaluation, data, run_name="closed", actor=OPERATOR)
    assert store.register(logged) == 1
    assert store.register(logged) == 2  # the same model again: a second version, no training

    engine = make_engine(f"sqlite:///{closed.var_dir / 'control_room.db'}")
    experiments = ExperimentsManager(store)
    registry = RegistryManager(store, FakePredictor(), engine, closed.promotion_margin)
    assert experiments.runs()["run_id"].tolist() == [logged.run_id]
    assert experiments.run_detail(logged.run_id).confusion.shape == (27, 27)  # artifacts too
    assert registry.promote(1, OPERATOR).promotion.to_version == 1
    assert registry.promote(2, OPERATOR).promotion.to_version == 2  # equal F1: the gate passes
    assert registry.rollback(ADMIN).promotion.to_version == 1
    assert [(v.version, v.aliases) for v in registry.versions()] == [(2, ()), (1, ("champion",))]
    # What the API does: load the champion's model through MLflow's artifact proxy.
    pipeline = store.load_pipeline(store.champion_ref())
    assert len(pipeline.predict(holdout[["designation", "description"]].head(3))) == 3
    engine.dispose()


def test_a_wrong_or_missing_credential_reads_as_words(closed: Settings, mlflow_login: None) -> None:
    uri = closed.mlflow_tracking_uri
    wrong = model_store(uri, "app", closed.mlflow_username, SecretStr("not-the-password"))
    with pytest.raises(ManagerError, match=r"refused the control room's credentials") as caught:
        ExperimentsManager(wrong).runs()
    message = str(caught.value)
    assert "RAKUTEN_MLFLOW_USERNAME and RAKUTEN_MLFLOW_PASSWORD" in message and uri in message
    assert "not-the-password" not in message
    engine = make_engine("sqlite://")
    with pytest.raises(ManagerError, match="refused the control room's credentials"):
        RegistryManager(wrong, FakePredictor(), engine, 0.0).versions()
    engine.dispose()
    for name in MLFLOW_LOGIN:
        os.environ.pop(name, None)
    anonymous = model_store(uri, "app")  # no user name: MLflow's own variables, none here
    with pytest.raises(ManagerError, match=r"asks who is calling \(basic auth\): set RAKUTEN_ML"):
        ExperimentsManager(anonymous).runs()


def test_no_secret_on_a_command_line_or_in_the_log(closed: Settings) -> None:
    """`ps` shows every command line to every user of the machine; logs are read by many."""
    secret = closed.mlflow_password.get_secret_value()
    supervisor = Supervisor(closed.var_dir, local_services(closed))
    pid = supervisor.status("mlflow").pid
    members = group_members(pid) if pid else []
    assert members, "MLflow is not running"
    for member in members:  # the server and its worker
        assert secret not in Path(f"/proc/{member}/cmdline").read_bytes().decode(errors="replace")
    log = (closed.var_dir / "logs" / "mlflow.log").read_text(errors="replace")
    assert "Created admin user 'control-room'" in log and secret not in log
