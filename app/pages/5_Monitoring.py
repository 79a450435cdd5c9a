"""Monitoring: has live traffic drifted from what the champion learnt? Check, retrain, simulate."""

from __future__ import annotations

import itertools

import pandas as pd
import streamlit as st

from app import state
from app.bootstrap import get_managers
from app.components.monitoring import (
    deployments_table,
    drift_share_chart,
    embed_report,
    health_charts,
    render_verdict,
    report_picker,
    traffic_form,
)
from app.following import follow_run, trigger
from app.managers.errors import ManagerError
from core.drift_store import MIN_ROWS
from core.flows.names import DAILY_MONITOR_CRON, MONITOR_DEPLOYMENT
from core.service_metrics import window_stats
from core.simulate import SCENARIOS, simulated_traffic

st.set_page_config(page_title="Monitoring · Control Room", page_icon=":material/monitoring:",
                   layout="wide")  # fmt: skip
managers = get_managers()
database, prefect, predictions = managers.database, managers.prefect, managers.predictions
threshold = managers.settings.drift_share_threshold
st.title("Monitoring")
st.caption(
    f"Drift of the inference log against the champion's training data (Evidently). Above "
    f"{threshold:.0%} drifted columns (RAKUTEN_DRIFT_SHARE_THRESHOLD) the monitor flow retrains; "
    f"the promotion gate decides. Scheduled daily (`{DAILY_MONITOR_CRON}`, UTC)."
)
if flash := st.session_state.pop(state.MONITOR_FLASH, None):
    st.success(flash)

try:
    runs = database.drift_runs()
    traffic = database.prediction_count()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

if runs.empty and traffic < MIN_ROWS:
    st.info(
        f"No inference traffic to judge yet ({traffic} prediction(s); the check needs at least "
        f"{MIN_ROWS}). Send traffic first: the simulator below, or the Predictions page.",
        icon=":material/info:",
    )
elif runs.empty:
    st.info(f"{traffic:,} predictions logged and no drift check yet: run one below.")
else:
    render_verdict(runs.iloc[0])
    st.plotly_chart(drift_share_chart(runs), width="stretch")

st.subheader("Run the monitor now")
check, retrain, _ = st.columns([1, 1, 2])
parameters = None
if check.button("Run drift check now", icon=":material/query_stats:"):
    parameters = {"retrain": False, "triggered_by": "app"}
if retrain.button("Run monitor-and-retrain now", icon=":material/autorenew:"):
    parameters = {"retrain": True, "triggered_by": "app"}
if parameters is not None:
    trigger(prefect, MONITOR_DEPLOYMENT, parameters, state.MONITOR_RUN_ID)
follow_run(prefect, state.MONITOR_RUN_ID)

with st.expander("Deployments and schedules", icon=":material/schedule:"):
    try:
        deployments = prefect.deployments()
    except ManagerError as exc:
        st.error(str(exc))
    else:
        toggled = deployments_table(deployments)
        if toggled is not None:
            paused = not next(d for d in deployments if d.name == toggled).paused
            try:
                prefect.set_paused(toggled, paused)
            except ManagerError as exc:
                st.error(str(exc))
            else:
                st.session_state[state.MONITOR_FLASH] = (
                    f"{toggled} {'paused' if paused else 'resumed'}."
                )
                st.rerun()

if not runs.empty:
    st.subheader("Evidently report")
    try:
        embed_report(database.drift_report(report_picker(runs)))
    except ManagerError as exc:
        st.error(str(exc))

st.subheader("Service health")
auto = st.toggle("Auto-refresh every 5 s", key=state.MONITOR_AUTO)


def service_health() -> None:
    """From Prometheus when one is configured; else scrape the API's /metrics, and take rates
    from consecutive scrapes of this session."""
    if managers.prometheus is not None:
        try:
            history = managers.prometheus.health_history()
            by_class = managers.prometheus.predictions_by_class()
        except ManagerError as exc:
            st.warning(str(exc))
            return
        if history.empty:
            st.caption(f"Prometheus at {managers.prometheus.url} has no API series yet.")
            return
        st.caption(f"From Prometheus at {managers.prometheus.url}, last 15 minutes.")
        health_charts(history, by_class)
        return
    try:
        scrape = predictions.scrape()
    except ManagerError as exc:
        st.warning(str(exc))
        return
    scrapes = st.session_state.setdefault(state.MONITOR_SCRAPES, [])
    scrapes.append(scrape)
    del scrapes[:-120]  # ten minutes at 5 s
    if len(scrapes) < 2:
        st.caption("Reading the API's metrics: rates appear from the next refresh on.")
        return
    windows = [window_stats(a, b) for a, b in itertools.pairwise(scrapes)]
    history = pd.DataFrame(
        {"at": [s.at for s in scrapes[1:]], "request_rate": [w.request_rate for w in windows],
         "p95_ms": [w.p95_ms for w in windows], "error_rate": [w.error_rate for w in windows]}
    )  # fmt: skip
    health_charts(history, window_stats(scrapes[0], scrapes[-1]).predictions)


st.fragment(service_health, run_every=5 if auto else None)()
if not auto:
    st.button("Refresh the metrics", icon=":material/refresh:")

st.subheader("Traffic simulator")
st.caption(
    "Sends predictions to the API, drawn from the holdout, with the drift you choose: so drift "
    "can be shown on demand. They land in the inference log like any other."
)
try:
    ready = predictions.health().model_loaded
except ManagerError as exc:
    ready = False
    st.warning(str(exc))
request = traffic_form(ready)
if request is not None:
    try:
        products = simulated_traffic(
            database.holdout(), request.count, request.scenario, request.strength
        )
        bar = st.progress(0.0, text=f"0 of {request.count:,} predictions")
        predictions.predict_batch(
            products,
            lambda done, total: bar.progress(done / total, text=f"{done:,} of {total:,} sent"),
        )
    except (ManagerError, ValueError) as exc:
        st.error(str(exc))
    else:
        st.session_state[state.MONITOR_FLASH] = (
            f"Sent {request.count:,} predictions ({SCENARIOS[request.scenario]}). "
            "Run the drift check to see what they did."
        )
        st.rerun()
