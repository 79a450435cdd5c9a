"""Training: train through Prefect, compare MLflow runs, promote and roll back the champion."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import current_actor, get_managers, require_identity
from app.components.flow_runs import follow_run
from app.components.infrastructure import tool_buttons
from app.components.live_comparison import canary_control, render_comparison, window_picker
from app.components.models import promotion_log_table, run_detail_panel, runs_panel
from app.components.permissions import explain, reason, refusals
from app.components.registry import change_message, promotion_actions, registry_panel
from app.components.training import train_form
from app.managers.errors import ManagerError
from core.access.permissions import Action
from core.flows.names import TRAIN_DEPLOYMENT
from core.registry import CHALLENGER, CHAMPION

st.set_page_config(
    page_title="Training · Control Room", page_icon=":material/model_training:", layout="wide"
)
require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
managers = get_managers()
dataset, prefect = managers.dataset, managers.prefect
experiments, registry = managers.experiments, managers.registry
actor = current_actor()
st.title("Training")
tool_buttons(managers.services.tool_links(), {"mlflow": "MLflow UI", "prefect": "Prefect UI"})
if flash := st.session_state.pop(state.TRAINING_FLASH, None):
    st.success(flash)

try:
    loaded_rows = dataset.status().loaded_rows
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

prefect_down = prefect.unavailable()  # asked first: a hung Prefect is then waited for once
with st.container(border=True):
    st.subheader("Train a model")
    if prefect_down:
        st.error(prefect_down)
    request = train_form(loaded_rows, explain(reason(actor, Action.TRAIN), prefect_down))
if request is not None:
    try:
        started = prefect.trigger(TRAIN_DEPLOYMENT, request.parameters, actor)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        st.session_state[state.TRAINING_RUN_ID] = started.id
if run_id := st.session_state.get(state.TRAINING_RUN_ID):
    follow_run(run_id, prefect.progress)

st.subheader("Runs")
try:
    runs = experiments.runs()
    versions = registry.versions()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()
if (selected := runs_panel(runs)) is not None:
    try:
        detail = experiments.run_detail(selected)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        run_detail_panel(detail)

st.subheader("Registry")
if (chosen := registry_panel(versions)) is None:
    st.stop()
try:
    verdict = registry.gate(chosen)
except ManagerError as exc:
    st.error(str(exc))
    st.stop()
live = None
if not any(v.version == chosen and CHAMPION in v.aliases for v in versions):
    with st.container(border=True):
        st.markdown(f"**Live comparison: v{chosen} against the champion on today's traffic**")
        try:
            live = managers.shadow.comparison(window_picker(), chosen)
            canary = managers.shadow.canary()
        except ManagerError as exc:
            st.error(str(exc))
        else:
            render_comparison(live)
            if any(v.version == chosen and CHALLENGER in v.aliases for v in versions):
                share = canary_control(canary, chosen, reason(actor, Action.SET_CANARY))
                if share is not None:
                    try:
                        said = managers.shadow.set_canary(share, actor)
                    except ManagerError as exc:
                        st.error(str(exc))
                    else:
                        st.session_state[state.TRAINING_FLASH] = said
                        st.rerun()
            else:
                st.caption("Canary: only the version holding @challenger can answer live traffic.")
refused = refusals(actor, Action.PROMOTE, Action.FORCE_PROMOTE, Action.ROLLBACK)
action = promotion_actions(chosen, verdict, versions, refused, live)
if action is not None:
    try:
        if action.rollback:
            change = registry.rollback(actor)
        else:
            change = registry.promote(action.version, actor, action.force_reason)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        st.session_state.pop(state.TRAINING_FORCE_REASON, None)  # a reason is for one promotion
        st.session_state[state.TRAINING_FLASH] = change_message(change)
        st.rerun()
st.markdown("**Promotion log**")
try:
    promotion_log_table(registry.promotion_log())
except ManagerError as exc:
    st.error(str(exc))
