"""API fixtures: two small real models in a temporary MLflow store, the API app under TestClient."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from core import promotion
from core.access import Actor, Role
from core.adapters.model_store import MlflowModelStore
from core.data.queries import TrainingData
from core.data.store import catalogue_digest
from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.evaluate import evaluate
from core.registry import CHALLENGER
from core.settings import Settings
from core.train import TrainConfig, fit
from tests.ports import free_port

TOKEN = "test-token"
TESTER = Actor(subject="test", via="test", role=Role.ADMIN)


@dataclass(frozen=True)
class ModelStore:
    """A tracking store with versions 1 and 2 registered; version 1 is champion."""

    tracking_uri: str
    engine: Engine  # the control room's database (promotion log)
    holdout: object

    def store(self) -> MlflowModelStore:
        return MlflowModelStore(self.tracking_uri)

    def champion(self) -> int:
        return self.store().champion_ref().version

    def force(self, version: int) -> None:
        reason = "test of the API's alias following"
        promotion.promote(
            self.engine, self.store(), version, margin=0.0, actor=TESTER, force_reason=reason
        )

    def rollback(self) -> None:
        promotion.rollback(self.engine, self.store(), actor=TESTER)


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelStore]:
    root = tmp_path_factory.mktemp("api-models")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    catalogue = generate_catalogue(3_000, seed=5)
    holdout = catalogue.groupby("prdtypecode", group_keys=False).sample(frac=0.15, random_state=0)
    products = catalogue.drop(holdout.index)
    data = TrainingData(
        products, holdout, 10_000, len(products), catalogue_digest(products.productid)
    )
    engine = make_engine(f"sqlite:///{root / 'control_room.db'}")
    ensure_schema(engine)
    store = MlflowModelStore(tracking_uri)
    for c in (5.0, 0.5):
        config = TrainConfig(max_features=5_000, word_ngram_max=1, c=c)
        result = fit(config, products)
        evaluation = evaluate(result.pipeline, holdout)
        logged = store.log_run(
            config, result, evaluation, data, run_name=f"api test C={c}", actor=TESTER
        )
        store.register(logged)
    models = ModelStore(tracking_uri, engine, holdout)
    models.force(1)
    yield models
    engine.dispose()


@pytest.fixture
def challenger_v2(model_store: ModelStore) -> Iterator[ModelStore]:
    """v2 is the challenger (and v1 the champion); left so for the tests that follow."""
    store = model_store.store()
    assert model_store.champion() == 1
    store.set_alias(CHALLENGER, 2)
    yield model_store
    store.set_alias(CHALLENGER, 2)


def api_settings(tmp_path: Path, tracking_uri: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "var_dir": tmp_path / "var",
        "database_url": f"sqlite:///{tmp_path / 'api.db'}",
        "mlflow_tracking_uri": tracking_uri,
        "api_token": TOKEN,
        "api_poll_seconds": 0.2,
        "api_batch_limit": 50,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, model_store: ModelStore) -> Settings:
    return api_settings(tmp_path, model_store.tracking_uri)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API with its lifespan running (inside ``with``), champion version 1 loaded."""
    with TestClient(create_app(settings, flush_seconds=0.05)) as test_client:
        yield test_client


@contextmanager
def running_api(settings: Settings, timeout: float = 30.0) -> Iterator[str]:
    """The API under uvicorn in a thread (its lifespan running); yields its URL, then stops it."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
