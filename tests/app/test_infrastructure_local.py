"""The Infrastructure page, local backend: real processes started and stopped by the supervisor."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import state
from app.managers.services import LocalServiceManager, ServiceManager
from core.restarts.policy import RestartRecord
from core.settings import Settings
from core.supervisor import ServiceSpec, Supervisor
from tests.app.conftest import run_page
from tests.app.test_infrastructure_page import PAGE, pick, table
from tests.ports import free_port


@pytest.fixture
def services_backend(tmp_path: Path) -> Iterator[ServiceManager]:
    """Two tiny HTTP servers as local services, supervised for real (PID files, logs)."""
    specs = []
    for name in ("web", "files"):
        port = free_port()
        specs.append(
            ServiceSpec(
                name,
                f"Static {name} server",
                [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                url=f"http://127.0.0.1:{port}",
                health_url=f"http://127.0.0.1:{port}/",
            )
        )
    supervisor = Supervisor(tmp_path / "services", specs)
    yield LocalServiceManager(supervisor)
    for spec in specs:
        supervisor.stop(spec.name)


def test_local_processes_start_show_healthy_stop_show_down(
    app_settings: Settings, services_backend: LocalServiceManager
) -> None:
    at = pick(run_page(PAGE), "web")
    rows = table(at)
    assert set(rows["backend"]) == {"local"} and "Local mode" in at.caption[0].value
    assert rows.loc["web", "health"] == "stopped (no process)"

    at = at.button(key=f"{state.INFRA_CONFIRM}_start").click().run()
    assert at.success[0].value == "web start: now healthy."
    rows = table(at)
    assert (rows.loc["web", "status"], rows.loc["web", "health"]) == ("running", "healthy")
    assert rows.loc["web", "check_ms"] > 0 and rows.loc["files", "status"] == "stopped"
    assert "starting web" in at.code[0].value  # the supervisor's log of the process

    at = at.button(key=f"{state.INFRA_CONFIRM}_stop").click().run()
    assert "web stop: now stopped" in at.success[0].value
    assert table(at).loc["web", "health"] == "stopped (no process)"
    assert at.metric[1].value == "0 / 2"


def test_restarts_by_the_policy_and_giving_up_are_shown(
    app_settings: Settings, services_backend: LocalServiceManager
) -> None:
    """What the `make run` loop wrote beside the PID files, as the page reads it."""
    ledger = services_backend._supervisor.ledger
    at = datetime(2025, 5, 1, 14, 3, 10, tzinfo=UTC).timestamp()
    ledger.write("web", RestartRecord(restarts=2, last_restart_at=at, last_exit_code=-9))
    ledger.write(
        "files",
        RestartRecord(
            restarts=5,
            last_restart_at=at,
            last_exit_code=1,
            given_up=True,
            reason="crashed 6 times in 10 min: not restarted; see its log",
        ),
    )
    rows = table(run_page(PAGE))
    assert rows.loc["web", "restarts"] == "restarted 2×, last 14:03:10 UTC — exit code -9"
    assert rows.loc["files", "restarts"] == "restarted 5×, last 14:03:10 UTC — exit code 1"
    assert rows.loc["files", "health"] == "crashed 6 times in 10 min: not restarted; see its log"
    assert rows.loc["web", "health"] == "stopped (no process)"
