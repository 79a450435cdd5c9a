"""AppTest fixtures: each test gets its own settings, database and a fresh composition root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import app.bootstrap
from app.bootstrap import Managers, local_service_manager
from app.managers.access import AccessManager
from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.docker_services import DockerServiceManager
from app.managers.drift import DriftManager
from app.managers.experiments import ExperimentsManager
from app.managers.flows import PrefectManager
from app.managers.inference import InferenceManager
from app.managers.predictions import PredictionManager
from app.managers.registry import RegistryManager
from app.managers.services import ServiceManager
from app.managers.shadow import ShadowManager
from core.access import Actor
from core.access.audit_store import SqlAuditLog
from core.db.engine import make_engine
from core.settings import REPO_ROOT, Settings, get_settings
from tests.fakes import FakeContainerEngine, FakeFlowRunner
from tests.fakes_serving import FakeModelStore, FakePredictor

PAGES = [REPO_ROOT / "app" / "Home.py", *sorted((REPO_ROOT / "app" / "pages").glob("*.py"))]
ACTOR = Actor.local_admin()  # who the app acts as, until sign-in
UNREACHABLE_DB = "postgresql+psycopg2://postgres@127.0.0.1:1/unreachable"


def _fresh_caches() -> None:
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def fake_store() -> FakeModelStore:
    """MLflow as the experiments and registry managers see it (real managers over this fake)."""
    return FakeModelStore()


@pytest.fixture
def fake_prefect() -> FakeFlowRunner:
    """Prefect as the flows manager sees it: the real manager runs over this fake runner."""
    return FakeFlowRunner()


@pytest.fixture
def fake_predictor() -> FakePredictor:
    """The predictor API as the prediction and registry managers see it."""
    return FakePredictor()


@pytest.fixture
def docker_engine() -> FakeContainerEngine:
    return FakeContainerEngine()


@pytest.fixture
def services_backend(docker_engine: FakeContainerEngine) -> ServiceManager:
    """The stack's containers through the real Docker backend over a fake engine; tests of the
    local backend override this fixture."""
    return DockerServiceManager(docker_engine)


@pytest.fixture(autouse=True)
def fake_services(
    monkeypatch: pytest.MonkeyPatch,
    fake_store: FakeModelStore,
    fake_prefect: FakeFlowRunner,
    fake_predictor: FakePredictor,
    services_backend: ServiceManager,
) -> None:
    """Pages get the real database managers (from the settings) and in-memory services; the fake
    API writes its predictions to that same database, as the real one does."""

    def build() -> Managers:
        settings = get_settings()
        engine = make_engine(settings.database_url)
        fake_predictor.engine = engine
        database = Database(engine)
        audit = SqlAuditLog(engine)
        batch_size = min(100, settings.api_batch_limit)
        return Managers(
            settings,
            DatasetManager(database, settings),
            InferenceManager(database),
            DriftManager(database, settings.var_dir / "drift"),
            ExperimentsManager(fake_store),
            RegistryManager(fake_store, fake_predictor, engine, settings.promotion_margin),
            PrefectManager(fake_prefect, audit),
            PredictionManager(fake_predictor, batch_size=batch_size, audit=audit),
            services_backend,
            AccessManager(database),
            ShadowManager(database, fake_predictor),
            local_services=(
                local_service_manager(settings) if services_backend.backend == "docker" else None
            ),
        )

    monkeypatch.setattr(app.bootstrap, "_build", build)


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings of a control room whose database is a fresh SQLite file."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RAKUTEN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", "")
    monkeypatch.setenv("RAKUTEN_SYNTHETIC_ROWS", "2000")
    _fresh_caches()
    yield get_settings()
    _fresh_caches()


@pytest.fixture
def database(app_settings: Settings) -> Iterator[Database]:
    """The database the app under test uses, to arrange and check state through its managers."""
    engine = make_engine(app_settings.database_url)
    yield Database(engine)
    engine.dispose()


@pytest.fixture
def dataset(database: Database, app_settings: Settings) -> DatasetManager:
    """The dataset of the app under test."""
    return DatasetManager(database, app_settings)


@pytest.fixture
def inference(database: Database) -> InferenceManager:
    """The inference log of the app under test."""
    return InferenceManager(database)


def loaded(dataset: DatasetManager, batches: int = 0) -> None:
    """Import the built-in catalogue (2,000 products) and load its initial share, then batches."""
    dataset.import_builtin(2_000, actor=ACTOR)
    dataset.initialize(ACTOR)
    for _ in range(batches):
        dataset.load_next_batch(ACTOR)


@pytest.fixture
def outage(app_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app at a database that refuses connections."""
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", UNREACHABLE_DB)
    _fresh_caches()


def run_page(path: Path) -> AppTest:
    return AppTest.from_file(str(path), default_timeout=60).run()


def button(at: AppTest, prefix: str):
    """The first button whose label starts with ``prefix``."""
    return next(b for b in at.button if b.label.startswith(prefix))


def metric(at: AppTest, label: str) -> str:
    """The value of the metric labelled ``label``."""
    return next(m.value for m in at.metric if m.label == label)
