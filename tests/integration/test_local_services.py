"""The local backend of the service manager, for real: the predictor API as a supervised process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.managers.errors import NotFound
from app.managers.services import LocalServiceManager
from core.access import Actor
from core.local_stack import local_services
from core.settings import Settings
from core.supervisor import Supervisor
from tests.ports import free_port

ACTOR = Actor.local_admin()


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServiceManager]:
    # The API process reads its settings from the environment, as under `make run`.
    environment = {
        "RAKUTEN_VAR_DIR": str(tmp_path),
        "RAKUTEN_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
        "RAKUTEN_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",  # no champion
        "RAKUTEN_PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
        "RAKUTEN_API_URL": f"http://127.0.0.1:{free_port()}",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = Settings()
    supervisor = Supervisor(tmp_path, [s for s in local_services(settings) if s.name == "api"])
    yield LocalServiceManager(supervisor)
    supervisor.stop("api")


def test_start_see_healthy_restart_stop_and_read_the_log(manager: LocalServiceManager) -> None:
    down = manager.service("api")
    assert (down.status, down.healthy, down.reason) == ("stopped", False, "stopped (no process)")

    up = manager.start("api", ACTOR)
    assert up.status == "running" and up.healthy and up.check_ms is not None
    assert up.backend == "local" and up.url and up.url.endswith("/docs") and up.uptime_s >= 0
    first_pid = manager._supervisor.status("api").pid

    again = manager.restart("api", ACTOR)
    assert again.healthy and manager._supervisor.status("api").pid != first_pid

    stopped = manager.stop("api", ACTOR)
    assert stopped.status == "stopped" and not stopped.healthy
    log = manager.logs("api")
    assert log.count("starting api") == 2 and "Uvicorn running on" in log
    assert [s.name for s in manager.services()] == ["api"]


def test_an_unknown_service_is_named(manager: LocalServiceManager) -> None:
    with pytest.raises(NotFound, match="No local service 'nope'; known: api"):
        manager.restart("nope", ACTOR)
