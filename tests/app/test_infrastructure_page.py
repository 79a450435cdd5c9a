"""The Infrastructure page, Docker backend: the real manager over a fake container engine (the
port); the local backend, with real processes, is in test_infrastructure_local.py."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import state
from core.settings import REPO_ROOT
from tests.app.conftest import run_page
from tests.fakes import FakeContainerEngine

PAGE = REPO_ROOT / "app" / "pages" / "6_Infrastructure.py"
HOME = REPO_ROOT / "app" / "Home.py"


def table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value.set_index("service")


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def popover(at: AppTest, label: str):
    """The popover's own settings (label, disabled)."""
    return next(p.proto.popover for p in at.get("popover") if p.proto.popover.label == label)


def link_buttons(at: AppTest) -> dict[str, str]:
    return {b.proto.label: b.proto.url for b in at.get("link_button")}


def pick(at: AppTest, service: str) -> AppTest:
    return at.selectbox(key=state.INFRA_SERVICE).set_value(service).run()


def test_every_container_with_status_health_latency_url_and_uptime(app_settings) -> None:
    at = run_page(PAGE)
    assert not at.exception and not at.error
    rows = table(at)
    assert list(rows.index) == list(FakeContainerEngine.SERVICES)
    api = rows.loc["api"]
    assert (api["backend"], api["status"], api["health"]) == ("docker", "running", "healthy")
    assert api["check_ms"] == pytest.approx(12.5) and api["url"] == "http://localhost:8000/docs"
    assert api["uptime"] != "—"
    assert api["restarts"] == "—"  # the engine's own restart count is not read (yet)
    assert at.metric[1].value == "11 / 11"
    assert link_buttons(at) == {
        "MLflow": "http://localhost:5000",
        "Prefect": "http://localhost:4200",
        "Grafana": "http://localhost:3000",
        "Prometheus": "http://localhost:9090",
        "API docs": "http://localhost:8000/docs",
    }
    assert "compose project **rakuten-control-room**" in at.caption[0].value


def test_a_stopped_container_is_shown_down_with_its_reason(
    app_settings, docker_engine: FakeContainerEngine
) -> None:
    docker_engine.all["api"].set_exited(137)
    docker_engine.all["mlflow"].set_running(healthy=False, output="connection refused")
    at = run_page(PAGE)
    rows = table(at)
    assert (rows.loc["api", "status"], rows.loc["api", "health"]) == (
        "exited",
        "exited (exit code 137)",
    )
    assert rows.loc["api", "uptime"] == "—"
    assert rows.loc["mlflow", "health"] == "health check failing: connection refused"
    assert at.metric[2].value == "mlflow, api"
    assert "API docs" not in link_buttons(at)  # a stopped service has no link

    home = run_page(HOME)
    card = [c.value for c in home.caption]
    assert any("down: mlflow, api" in c for c in card), card


def test_stop_after_confirmation_then_start_again(
    app_settings, docker_engine: FakeContainerEngine
) -> None:
    at = pick(run_page(PAGE), "api")
    assert popover(at, "Start api…").disabled and not popover(at, "Stop api…").disabled
    at = at.button(key=f"{state.INFRA_CONFIRM}_stop").click().run()
    assert docker_engine.all["api"].calls == ["stop"]
    assert "api stop: now exited" in at.success[0].value
    assert table(at).loc["api", "status"] == "exited"

    at = at.button(key=f"{state.INFRA_CONFIRM}_start").click().run()
    assert docker_engine.all["api"].calls == ["stop", "start"]
    assert at.success[0].value == "api start: now healthy."


def test_the_app_cannot_stop_itself(app_settings) -> None:
    at = pick(run_page(PAGE), "app")
    assert popover(at, "Stop app…").disabled and popover(at, "Restart app…").disabled
    assert any("runs this page" in c.value for c in at.caption)


def test_the_log_viewer_shows_the_last_lines(app_settings) -> None:
    at = pick(run_page(PAGE), "grafana")
    log = at.code[0].value
    assert log.splitlines()[-1] == "grafana line 300" and len(log.splitlines()) == 100
    at = at.select_slider(key=state.INFRA_LOG_LINES).set_value(50).run()
    assert len(at.code[0].value.splitlines()) == 50


def test_an_unreachable_engine_is_said_plainly_and_local_mode_offered(
    app_settings, docker_engine: FakeContainerEngine
) -> None:
    docker_engine.down = True
    at = run_page(PAGE)
    assert not at.exception
    assert "Docker engine is not reachable" in at.error[0].value
    assert "make run" in at.error[0].value and not at.dataframe

    at = button(at, "Use local mode's services").click().run()
    rows = table(at)
    assert set(rows["backend"]) == {"local"} and "api" in rows.index
    assert rows.loc["api", "health"] == "stopped (no process)"
    assert button(at, "Back to the Docker stack")

    home = run_page(HOME)
    assert any("Docker engine is not reachable" in c.value for c in home.caption)
