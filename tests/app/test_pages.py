"""Every page renders without exception, and says plainly when the database is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.components.navigation import LIFECYCLE
from app.managers.dataset import DatasetManager
from core.settings import REPO_ROOT
from tests.app.conftest import PAGES, loaded, run_page
from tests.fakes import FakeContainerEngine

page_ids = [p.stem for p in PAGES]


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES, ids=page_ids)
def test_page_renders_on_a_fresh_database(page: Path, app_settings) -> None:
    at = run_page(page)
    no_exception(at)
    assert not at.error


@pytest.mark.parametrize("page", PAGES, ids=page_ids)
def test_page_renders_with_data_loaded(page: Path, dataset: DatasetManager) -> None:
    loaded(dataset, batches=1)
    at = run_page(page)
    no_exception(at)
    assert not at.error


@pytest.mark.parametrize("page", PAGES, ids=page_ids)
def test_page_shows_a_readable_error_when_the_database_is_down(page: Path, outage) -> None:
    at = run_page(page)
    no_exception(at)
    assert at.error, "expected an st.error naming the database"
    message = at.error[0].value
    assert "Database not reachable at postgresql" in message and "127.0.0.1:1" in message
    assert "Traceback" not in message


@pytest.mark.parametrize("page", PAGES, ids=page_ids)
def test_page_names_an_invalid_setting(page: Path, app_settings, monkeypatch) -> None:
    from tests.app.conftest import _fresh_caches

    monkeypatch.setenv("RAKUTEN_DATABASE_URL", "postgres://db/rakuten")
    _fresh_caches()
    at = run_page(page)
    no_exception(at)
    assert "RAKUTEN_DATABASE_URL: use postgresql://" in at.error[0].value


def test_home_links_every_lifecycle_page() -> None:
    assert [REPO_ROOT / "app" / page for page, _, _ in LIFECYCLE] == PAGES[1:]


def test_home_names_what_failed_when_the_services_cannot_be_read(
    app_settings, docker_engine: FakeContainerEngine
) -> None:
    docker_engine.down = True
    at = run_page(PAGES[0])
    no_exception(at)
    details = [c.value for c in at.caption]
    # The card has room for what failed; how to fix it is on the Infrastructure page.
    assert "The Docker engine is not reachable at unix:///var/run/docker.sock" in details
    assert not any("Start Docker" in d for d in details)
