"""AppTest fixtures: each test gets its own settings, database and a fresh composition root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import app.bootstrap
from app.bootstrap import Managers
from app.managers.database import DatabaseManager
from app.managers.docker_services import DockerServiceManager
from app.managers.services import ServiceManager
from core.db.engine import make_engine
from core.settings import REPO_ROOT, Settings, get_settings
from tests.fakes import (
    FakeDockerClient,
    FakeMlflowManager,
    FakePredictionManager,
    FakePrefectManager,
)

PAGES = [REPO_ROOT / "app" / "Home.py", *sorted((REPO_ROOT / "app" / "pages").glob("*.py"))]
UNREACHABLE_DB = "postgresql+psycopg2://postgres@127.0.0.1:1/unreachable"


def _fresh_caches() -> None:
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def fake_mlflow() -> FakeMlflowManager:
    return FakeMlflowManager()


@pytest.fixture
def fake_prefect() -> FakePrefectManager:
    return FakePrefectManager()


@pytest.fixture
def fake_predictions() -> FakePredictionManager:
    return FakePredictionManager()


@pytest.fixture
def docker_engine() -> FakeDockerClient:
    return FakeDockerClient()


@pytest.fixture
def services_backend(docker_engine: FakeDockerClient) -> ServiceManager:
    """The stack's containers through the real Docker backend over a fake engine; tests of the
    local backend override this fixture."""
    return DockerServiceManager(docker_engine.project, lambda: docker_engine)


@pytest.fixture(autouse=True)
def fake_services(
    monkeypatch: pytest.MonkeyPatch,
    fake_mlflow: FakeMlflowManager,
    fake_prefect: FakePrefectManager,
    fake_predictions: FakePredictionManager,
    services_backend: ServiceManager,
) -> None:
    """Pages get the real database manager (from the settings) and in-memory services; the fake
    API writes its predictions to that same database, as the real one does."""

    def build() -> Managers:
        settings = get_settings()
        engine = make_engine(settings.database_url)
        fake_predictions._engine = engine
        database = DatabaseManager(engine, settings)
        return Managers(
            settings,
            database,
            fake_mlflow,
            fake_prefect,
            fake_predictions,  # type: ignore[arg-type]
            services_backend,
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
def database(app_settings: Settings) -> Iterator[DatabaseManager]:
    """A manager on the same database the app under test uses, to arrange and check state."""
    engine = make_engine(app_settings.database_url)
    yield DatabaseManager(engine, app_settings)
    engine.dispose()


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
