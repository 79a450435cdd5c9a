"""Monitoring: has live traffic drifted from what the champion learnt? Check, retrain, simulate."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import current_actor, get_managers, require_identity
from app.components.flow_runs import follow_run
from app.components.monitoring import (
    deployments_table,
    drift_overview,
    embed_report,
    report_picker,
    run_now_buttons,
    traffic_form,
    traffic_progress,
    unread_schedules,
)
from app.components.permissions import explain, reason
from app.components.service_health import render_service_health
from app.managers.errors import ManagerError
from core.access.permissions import Action
from core.flows.names import (
    DAILY_MONITOR_CRON,
    LOAD_DATA_DEPLOYMENT,
    MONITOR_DEPLOYMENT,
    WEEKLY_LOAD_CRON,
)
from core.service_metrics import health_from_scrapes
from core.simulate import SCENARIOS, simulated_traffic

st.set_page_config(
    page_title="Monitoring · Control Room", page_icon=":material/monitoring:", layout="wide"
)
require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
managers = get_managers()
drift, prefect, predictions = managers.drift, managers.prefect, managers.predictions
actor = current_actor()
st.title("Monitoring")
st.caption(
    f"Drift of the inference log against the champion's training data (Evidently). Above "
    f"{managers.settings.drift_share_threshold:.0%} drifted columns "
    "(RAKUTEN_DRIFT_SHARE_THRESHOLD) the monitor flow retrains; the promotion gate decides. "
    f"Scheduled daily (`{DAILY_MONITOR_CRON}`, UTC)."
)
if flash := st.session_state.pop(state.MONITOR_FLASH, None):
    st.success(flash)

try:
    checks = drift.checks()
    traffic = managers.inference.prediction_count()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()
drift_overview(checks, traffic)

st.subheader("Run the monitor now")
prefect_down = prefect.unavailable()  # asked first: a hung Prefect is then waited for once
if prefect_down:
    st.error(prefect_down)
if (retrain := run_now_buttons(explain(reason(actor, Action.MONITOR), prefect_down))) is not None:
    try:
        started = prefect.trigger(MONITOR_DEPLOYMENT, {"retrain": retrain}, actor)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        st.session_state[state.MONITOR_RUN_ID] = started.id
if run_id := st.session_state.get(state.MONITOR_RUN_ID):
    follow_run(run_id, prefect.progress)

with st.expander("Deployments and schedules", icon=":material/schedule:"):
    try:
        deployments = prefect.deployments()
    except ManagerError as exc:
        deployments = []
        st.error(str(exc))
        schedules = {LOAD_DATA_DEPLOYMENT: WEEKLY_LOAD_CRON, MONITOR_DEPLOYMENT: DAILY_MONITOR_CRON}
        unread_schedules(schedules, str(exc))  # their buttons shown, disabled with the reason
    no_pause = explain(reason(actor, Action.PAUSE_SCHEDULE), prefect_down)
    if (pressed := deployments_table(deployments, no_pause)) is not None:
        try:
            prefect.set_paused(pressed.name, not pressed.paused, actor)
        except ManagerError as exc:
            st.error(str(exc))
        else:
            done = "resumed" if pressed.paused else "paused"
            st.session_state[state.MONITOR_FLASH] = f"{pressed.name} {done}."
            st.rerun()

if checks:
    st.subheader("Evidently report")
    try:
        embed_report(drift.report(report_picker(checks)))
    except ManagerError as exc:
        st.error(str(exc))

st.subheader("Service health")
auto = st.toggle("Auto-refresh every 5 s", key=state.MONITOR_AUTO)


@st.fragment(run_every=5 if auto else None)
def service_health() -> None:
    """Prometheus' history when one is configured; else rates between this session's reads of
    the API's /metrics."""
    try:
        if managers.prometheus is not None:
            health = managers.prometheus.service_health()
        else:
            scrapes = st.session_state.setdefault(state.MONITOR_SCRAPES, [])
            scrapes.append(predictions.scrape())
            del scrapes[:-120]  # ten minutes at 5 s
            health = health_from_scrapes(scrapes)
    except ManagerError as exc:
        st.warning(str(exc))
    else:
        render_service_health(health)


service_health()
if not auto:
    st.button("Refresh the metrics", icon=":material/refresh:")

st.subheader("Traffic simulator")
try:
    ready = predictions.health().model_loaded
except ManagerError as exc:
    ready = False
    st.warning(str(exc))
if (request := traffic_form(ready, reason(actor, Action.SIMULATE_TRAFFIC))) is not None:
    try:
        holdout = managers.dataset.holdout()
        products = simulated_traffic(holdout, request.count, request.scenario, request.strength)
        predictions.send_traffic(products, current_actor(), traffic_progress(request.count))
    except (ManagerError, ValueError) as exc:
        st.error(str(exc))
    else:
        scenario = SCENARIOS[request.scenario]
        st.session_state[state.MONITOR_FLASH] = (
            f"Sent {request.count:,} predictions ({scenario}). Run the drift check to see what "
            "they did."
        )
        st.rerun()
