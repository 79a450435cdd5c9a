"""Training: train through Prefect, compare MLflow runs, promote and roll back the champion."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import get_managers
from app.components.models import (
    compare_chart,
    confusion_heatmap,
    per_class_chart,
    promotion_log_table,
    runs_table,
    versions_table,
)
from app.components.registry import promotion_actions, version_picker
from app.components.training import train_form
from app.following import follow_run, trigger
from app.links import tool_links
from app.managers.errors import ManagerError
from core.evaluate import most_confused
from core.flows.names import TRAIN_DEPLOYMENT

st.set_page_config(page_title="Training · Control Room", page_icon=":material/model_training:",
                   layout="wide")  # fmt: skip
managers = get_managers()
database, mlflow, prefect = managers.database, managers.mlflow, managers.prefect
st.title("Training")
links, tools = st.container(horizontal=True), tool_links(managers)
if "mlflow" in tools:
    links.link_button("MLflow UI", tools["mlflow"], icon=":material/open_in_new:")
if "prefect" in tools:
    links.link_button("Prefect UI", tools["prefect"], icon=":material/open_in_new:")
if flash := st.session_state.pop(state.TRAINING_FLASH, None):
    st.success(flash)

try:
    loaded_rows = database.status().loaded_rows
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

with st.container(border=True):
    st.subheader("Train a model")
    request = train_form(loaded_rows)
if request is not None:
    parameters = {
        "config": request.config.model_dump(),
        "auto_promote": request.auto_promote,
        "triggered_by": "app",
    }
    trigger(prefect, TRAIN_DEPLOYMENT, parameters, state.TRAINING_RUN_ID)
follow_run(prefect, state.TRAINING_RUN_ID)

st.subheader("Runs")
try:
    runs = mlflow.runs()
    versions = mlflow.versions()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()
if runs.empty:
    st.caption("No runs yet: train a model above.")
else:
    st.caption("Select runs to compare them; the first selected one is shown in detail.")
    selected = runs_table(runs)
    if len(selected) >= 2:
        st.plotly_chart(compare_chart(runs[runs["run_id"].isin(selected)]))
    if selected:
        try:
            detail = mlflow.run_detail(selected[0])
        except ManagerError as exc:
            st.error(str(exc))
        else:
            f1 = detail.metrics.get("weighted_f1")
            st.markdown(
                f"**{detail.name}**" + (f" — weighted F1 {f1:.4f}" if f1 is not None else "")
            )
            matrix, classes, pairs = st.tabs(["Confusion matrix", "Per-class F1", "Most confused"])
            matrix.plotly_chart(confusion_heatmap(detail.confusion))
            classes.plotly_chart(per_class_chart(detail.per_class))
            share = st.column_config.NumberColumn("Share of the true class", format="percent")
            pairs.dataframe(
                most_confused(detail.confusion), hide_index=True, column_config={"share": share}
            )


def served_after_switch(version: int) -> str:
    """Ask the API to pick up the new champion now; say what it serves."""
    try:
        served = managers.predictions.reload()
    except ManagerError as exc:
        return f"The API did not reload ({exc}); it checks the alias on its own."
    if served.version == version:
        return f"The API now serves v{version}."
    return f"The API still serves v{served.version}: {served.last_error or 'it will switch soon'}."


st.subheader("Registry")
if not versions:
    st.caption("No registered versions yet: every training run registers one.")
    st.stop()
versions_table(versions)
chosen = version_picker(versions)
try:
    verdict = mlflow.gate(chosen)
except ManagerError as exc:
    st.error(str(exc))
    st.stop()
action = promotion_actions(chosen, verdict, versions)
if action is not None:
    try:
        if action.rollback:
            done = mlflow.rollback()
        else:
            done = mlflow.promote(action.version, force_reason=action.force_reason)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        st.session_state.pop(state.TRAINING_FORCE_REASON, None)  # a reason is for one promotion
        st.session_state[state.TRAINING_FLASH] = (
            f"Champion is now v{done.to_version} ({done.action}: {done.reason}). "
            + served_after_switch(done.to_version)
        )
        st.rerun()
st.markdown("**Promotion log**")
try:
    promotion_log_table(mlflow.promotion_log())
except ManagerError as exc:
    st.error(str(exc))
