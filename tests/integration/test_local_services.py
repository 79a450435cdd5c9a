"""The local backend of the service manager, for real: the predictor API as a supervised process,
and the restart policy of `make run` on it (killed: restarted; stopped on purpose: not)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.managers.errors import NotFound
from app.managers.services import LocalServiceManager
from core.access import Actor
from core.local_stack import local_services
from core.restarts.policy import RestartPolicy
from core.restarts.watchdog import Watchdog
from core.settings import Settings
from core.supervisor import ServiceSpec, Supervisor
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


@pytest.fixture
def watchdog(manager: LocalServiceManager) -> Iterator[Watchdog]:
    """The restart policy of `make run`, looking every 0.2 s, with a short back-off."""
    dog = Watchdog(manager._supervisor, ["api"], RestartPolicy(first_delay_s=0.5, max_delay_s=2))
    stop = threading.Event()
    thread = threading.Thread(target=dog.run, args=(stop, 0.2), daemon=True)
    thread.start()
    yield dog
    stop.set()
    thread.join(timeout=10)


def wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_the_api_killed_is_restarted_and_the_restart_counted(
    manager: LocalServiceManager, watchdog: Watchdog
) -> None:
    first_pid = manager.start("api", ACTOR).healthy and manager._supervisor.status("api").pid
    assert first_pid
    os.kill(first_pid, signal.SIGKILL)

    def back() -> bool:
        status = manager._supervisor.status("api")
        return status.healthy and status.pid != first_pid

    assert wait_for(back, timeout=30), manager.logs("api", 20)
    service = manager.service("api")
    assert service.healthy and service.restarts == 1
    assert service.restart_note.startswith("restarted 1×, last ")
    assert service.restart_note.endswith("UTC — exit code -9")


def test_an_api_stopped_on_purpose_is_not_restarted(
    manager: LocalServiceManager, watchdog: Watchdog
) -> None:
    assert manager.start("api", ACTOR).healthy
    manager.stop("api", ACTOR)  # as from the Infrastructure page
    time.sleep(2.5)  # longer than the back-off, many looks of the watchdog
    service = manager.service("api")
    assert (service.status, service.reason, service.restarts) == (
        "stopped",
        "stopped (no process)",
        0,
    )
    assert manager.start("api", ACTOR).healthy  # and a person may start it again


def test_a_service_that_keeps_crashing_is_left_stopped_with_the_reason(tmp_path: Path) -> None:
    spec = ServiceSpec("flaky", "Crashes at once", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor = Supervisor(tmp_path, [spec])
    policy = RestartPolicy(first_delay_s=0.1, max_delay_s=0.2, limit=2, window_s=60)
    dog = Watchdog(supervisor, ["flaky"], policy)
    supervisor.start("flaky")

    def given_up() -> bool:
        dog.tick()
        return supervisor.ledger.read("flaky").given_up

    assert wait_for(given_up, timeout=20)
    status = supervisor.status("flaky")
    assert not status.running and status.restarts.restarts == 2
    assert status.reason == "crashed 3 times in 1 min: not restarted; see its log"
    assert status.restarts.last_exit_code == 3
    for _ in range(5):  # it stays stopped
        dog.tick()
        time.sleep(0.2)
    assert supervisor.ledger.read("flaky").restarts == 2 and not supervisor.running("flaky")
    assert "starting flaky" in supervisor.log_tail("flaky")

    supervisor.start("flaky")  # a person's start: the policy tries again
    assert wait_for(lambda: dog.tick() or supervisor.ledger.read("flaky").restarts == 3, 10)
