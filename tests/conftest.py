"""Shared fixtures: real databases (SQLite and PostgreSQL) and a small catalogue.

PostgreSQL tests use the server at 127.0.0.1:5432 (override with RAKUTEN_TEST_PG_URL) in a
database they create and drop. Off CI they skip with the reason when it is not there; in CI
(CI=true) they fail instead, so a missing service can never turn the suite green.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text

from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.db.tables import metadata

# No telemetry from MLflow or Prefect during tests (and no waiting on a network that isn't there).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

PG_ADMIN_URL = os.environ.get(
    "RAKUTEN_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_service(reason: str) -> None:
    """Fail in CI, skip elsewhere, always saying what is missing."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests that need it must not skip)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database named ``<prefix>_<random>``, dropped on the way out
    (fails in CI, skips elsewhere, when the server is not there)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure here means "no usable server"
        admin.dispose()
        missing_service(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session, dropped at the end."""
    with fresh_pg_database("rakuten_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url = request.getfixturevalue("pg_database_url")
    engine = make_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database with the schema created, once per backend."""
    engine = make_engine(database_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def catalogue() -> pd.DataFrame:
    """A small built-in catalogue (3,000 rows): every class, realistic text."""
    return generate_catalogue(3_000, seed=7)
