"""Settings: typed, validated, one prefix, defaults that work on a fresh machine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import REPO_ROOT, Settings, describe_settings_error


def test_defaults_are_local_mode_with_sqlite_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT / "tests")  # no .env here
    settings = Settings()
    assert settings.mode == "local"
    assert settings.database_url == f"sqlite:///{REPO_ROOT / 'var' / 'control_room.db'}"
    assert settings.database_backend == "sqlite"
    assert (settings.initial_load_bp, settings.batch_bp) == (4_000, 300)


def test_environment_overrides_with_the_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("RAKUTEN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RAKUTEN_BATCH_FRACTION", "0.05")
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", "postgresql+psycopg2://u@db:5432/rakuten")
    settings = Settings()
    assert settings.var_dir == tmp_path
    assert settings.batch_bp == 500
    assert settings.database_backend == "postgresql"


def test_a_plain_postgresql_url_gets_the_installed_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLAlchemy 2.1 reads postgresql:// as psycopg 3, which is not installed: psycopg2 is.
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", "postgresql://u:p%40ss@db:5432/rakuten")
    assert Settings().database_url == "postgresql+psycopg2://u:p%40ss@db:5432/rakuten"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RAKUTEN_HOLDOUT_FRACTION", "0.9"), ("RAKUTEN_APP_PORT", "0"), ("RAKUTEN_MODE", "cloud")],
)
def test_bad_values_are_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("RAKUTEN_").lower()):
        Settings()


def test_env_example_documents_every_setting() -> None:
    documented = set(
        re.findall(r"^#?\s*RAKUTEN_([A-Z_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M)
    )
    assert documented == {name.upper() for name in Settings.model_fields}


def test_readme_settings_table_lists_every_setting() -> None:
    readme = Path(REPO_ROOT / "README.md").read_text()
    missing = [n for n in Settings.model_fields if f"RAKUTEN_{n.upper()}" not in readme]
    assert not missing


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgres://u@db/rakuten", "use postgresql://"),
        ("not a url", "not a database URL"),
        ("mysql://u@db/rakuten", "unsupported database 'mysql'"),
    ],
)
def test_database_url_is_checked(monkeypatch: pytest.MonkeyPatch, url: str, problem: str) -> None:
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", url)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "RAKUTEN_DATABASE_URL: " in describe_settings_error(caught.value)
    assert problem in describe_settings_error(caught.value)


def test_a_load_fraction_rounding_to_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAKUTEN_BATCH_FRACTION", "0.00001")
    with pytest.raises(ValidationError, match="at least 0.0001"):
        Settings()
