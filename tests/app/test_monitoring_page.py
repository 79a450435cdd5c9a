"""The Monitoring page with fakes for Prefect and the API, and drift runs in a real database."""

from __future__ import annotations

import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

import app.bootstrap
from app.bootstrap import Managers
from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.inference import InferenceManager
from app.managers.prometheus import PrometheusManager
from core.access import Actor
from core.db.engine import ensure_schema
from core.drift_store import DriftRun, DriftSummary, save_drift_run
from tests.app.conftest import ACTOR, REPO_ROOT, button, metric, run_page
from tests.fakes import FakeFlowRunner, FakePrometheus
from tests.fakes_serving import FakePredictor

MONITORING = REPO_ROOT / "app" / "pages" / "5_Monitoring.py"
HOME = REPO_ROOT / "app" / "Home.py"


def page() -> AppTest:
    return run_page(MONITORING)


@pytest.fixture
def fake_prometheus(monkeypatch: pytest.MonkeyPatch) -> FakePrometheus:
    """A Prometheus server configured: the real manager over the fake."""
    fake = FakePrometheus()
    build = app.bootstrap._build

    def with_prometheus() -> Managers:
        return dataclasses.replace(build(), prometheus=PrometheusManager(fake))

    monkeypatch.setattr(app.bootstrap, "_build", with_prometheus)
    return fake


def a_drift_run(database: Database, app_settings, share: float, verdict_html: str) -> None:
    summary = DriftSummary(share, ("predicted_code",) if share > 0.3 else (), {}, 0.3, 5_000, 600)
    ensure_schema(database.engine)
    run = DriftRun(summary, None, None, champion_version=2, actor=Actor.schedule("monitor"))
    save_drift_run(database.engine, app_settings.var_dir / "drift", run, verdict_html)


def test_no_traffic_yet_says_to_send_some_first(database: Database) -> None:
    at = page()
    assert not at.exception and not at.error
    assert "No inference traffic to judge yet (0 prediction(s)" in at.info[0].value
    assert "Send traffic first" in at.info[0].value


def test_the_latest_verdict_the_chart_and_the_report(database: Database, app_settings) -> None:
    a_drift_run(database, app_settings, 0.11, "<html><body>calm report</body></html>")
    a_drift_run(database, app_settings, 0.44, "<html><body>wave report</body></html>")
    at = page()
    assert not at.exception and not at.error
    assert metric(at, "Verdict") == "drift" and metric(at, "Drift share") == "44%"
    assert metric(at, "Drifted columns") == "predicted_code"
    banner = at.warning[0].value
    assert "**drift** on 600 predictions against 5,000 training products of champion v2" in banner
    assert len(at.get("plotly_chart")) == 1
    assert "wave report" in at.get("iframe")[0].proto.srcdoc


def test_run_now_triggers_the_monitor_deployment(
    database: Database, fake_prefect: FakeFlowRunner
) -> None:
    at = page()
    button(at, "Run drift check now").click().run()
    button(at, "Run monitor-and-retrain now").click().run()
    assert fake_prefect.triggered == [
        ("monitor/monitor", {"retrain": False, "actor": ACTOR.as_params()}),
        ("monitor/monitor", {"retrain": True, "actor": ACTOR.as_params()}),
    ]
    assert any("monitor run" in m.value and "Completed" in m.value for m in at.markdown)


def test_prefect_down_is_a_readable_error(database: Database, fake_prefect: FakeFlowRunner) -> None:
    fake_prefect.down = True
    at = page()
    assert not at.exception
    assert "Prefect not reachable at http://prefect.test/api" in at.error[0].value
    run_now = button(at, "Run drift check now")  # disabled with the reason, not clickable
    assert run_now.disabled and "Prefect not reachable" in run_now.help


def test_a_followed_run_shows_an_outage_in_its_panel(
    database: Database, fake_prefect: FakeFlowRunner
) -> None:
    fake_prefect.outcome = ("RUNNING", "Running", "")
    at = button(page(), "Run drift check now").click().run()
    assert any("monitor run" in m.value and "Running" in m.value for m in at.markdown)
    fake_prefect.down = True
    at = at.run()
    assert not at.exception
    assert any("Prefect not reachable at http://prefect.test/api" in e.value for e in at.error)
    assert "make run" in at.error[0].value  # the manager's hint: what to do


def test_the_simulator_sends_drifted_traffic_through_the_api(
    dataset: DatasetManager, inference: InferenceManager, fake_predictor: FakePredictor
) -> None:
    dataset.import_builtin(2_000, actor=ACTOR)
    at = page()
    at.selectbox[0].set_value("summer")
    at.number_input[0].set_value(200)
    at = at.button[-1].click().run()  # the form's Send traffic
    assert not at.exception and not at.error
    assert "Sent 200 predictions (summer wave" in at.success[0].value
    assert inference.prediction_count() == 200
    assert "No inference traffic" not in " ".join(i.value for i in at.info)


def test_the_simulator_is_off_while_the_api_serves_nothing(
    database: Database, fake_predictor: FakePredictor
) -> None:
    fake_predictor.down = True
    at = page()
    assert "Predictor API not reachable" in at.warning[0].value
    assert at.button[-1].disabled


def test_home_shows_the_last_drift_check(database: Database, app_settings) -> None:
    at = run_page(HOME)
    assert any("none yet" in m.value for m in at.markdown)
    a_drift_run(database, app_settings, 0.44, "<html></html>")
    at = run_page(HOME)
    assert not at.exception and any("drift · 44%" in m.value for m in at.markdown)


def test_deployments_show_their_schedules_and_pause(
    database: Database, fake_prefect: FakeFlowRunner
) -> None:
    at = page()
    text = " ".join(m.value for m in at.markdown)
    assert "`0 9 * * *` (UTC)" in text and "`0 6 * * 1` (UTC)" in text and "on demand" in text
    at.button(key="pause-monitor/monitor").click().run()
    assert fake_prefect.paused == {"monitor/monitor"}
    assert "monitor/monitor paused." in at.success[0].value
    assert at.button(key="pause-monitor/monitor").label == "Resume"


def test_service_health_from_the_api_metrics(
    database: Database, fake_predictor: FakePredictor
) -> None:
    at = page()
    assert any("rates appear from the next refresh" in c.value for c in at.caption)
    at = at.run()  # every run scrapes again
    assert metric(at, "Prediction requests") == "2.2/s"  # 11 requests in 5 s
    assert metric(at, "Error rate (5xx)") == "9.1%"
    assert metric(at, "p95 latency") != "—"


def test_service_health_with_the_api_down(
    database: Database, fake_predictor: FakePredictor
) -> None:
    fake_predictor.down = True
    at = page()
    assert not at.exception
    assert sum("Predictor API not reachable at http://api.test" in w.value for w in at.warning) == 2


def test_service_health_from_prometheus_when_configured(
    database: Database, fake_prometheus: FakePrometheus
) -> None:
    at = page()
    assert not at.exception
    assert any(
        "From Prometheus at http://prometheus.test, last 15 minutes." in c.value for c in at.caption
    )
    assert metric(at, "Prediction requests") == "4.0/s" and metric(at, "p95 latency") == "4.8 ms"
    assert metric(at, "Error rate (5xx)") == "25.0%"


def test_prometheus_without_api_series_yet(
    database: Database, fake_prometheus: FakePrometheus
) -> None:
    fake_prometheus.empty = True
    at = page()
    assert not at.exception and not at.metric
    assert any(
        "Prometheus at http://prometheus.test has no API series" in c.value for c in at.caption
    )


def test_prometheus_down_is_a_warning_with_the_way_out(
    database: Database, fake_prometheus: FakePrometheus
) -> None:
    fake_prometheus.down = True
    at = page()
    assert not at.exception and not at.error
    (warning,) = [w.value for w in at.warning if "Prometheus" in w.value]
    assert "Prometheus not reachable at http://prometheus.test" in warning
    assert "clear RAKUTEN_PROMETHEUS_URL" in warning
