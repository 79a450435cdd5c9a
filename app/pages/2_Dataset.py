"""Dataset: import a source, load it in stratified batches, and explore what is loaded."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import get_managers
from app.components.charts import class_distribution_chart, cumulative_share_chart
from app.components.dataset import (
    explorer_filters,
    import_form,
    load_controls,
    render_text_stats,
)
from app.components.tables import render_load_history, render_products
from app.components.text import inert
from app.managers.errors import ManagerError

st.set_page_config(
    page_title="Dataset · Control Room", page_icon=":material/dataset:", layout="wide"
)
managers = get_managers()
database, settings = managers.database, managers.settings
st.title("Dataset")

try:
    status = database.status()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

if flash := st.session_state.pop(state.DATASET_FLASH, None):
    st.success(flash)

with st.expander("Import data", expanded=status.source is None, icon=":material/upload:"):
    request = import_form(
        status,
        settings.synthetic_rows,
        # Reading server paths is for one's own machine, not for a shared stack.
        (settings.challenge_x_path, settings.challenge_y_path)
        if settings.mode == "local"
        else None,
    )
if request is not None:
    with st.status("Importing…", expanded=True) as progress:
        try:
            if request.x is None:
                summary = database.import_builtin(request.rows, request.replace, progress.write)
            else:
                summary = database.import_files(
                    request.x, request.y, request.replace, progress.write
                )
        except ManagerError as exc:
            progress.update(label="Import refused", state="error")
            st.error(inert(str(exc)))  # it quotes the file's name and cells
            st.stop()
    st.session_state.pop(state.DATASET_REPLACE, None)  # consent is for one import only
    st.session_state[state.DATASET_FLASH] = (
        f"Imported {inert(summary.source)}: {summary.pool_rows:,} products in the pool, "
        f"{summary.holdout_rows:,} in the fixed holdout."
    )
    st.rerun()
if status.source is None:
    st.info("No dataset yet: import the built-in catalogue or the challenge files above.")
    st.stop()

seen_stage = st.session_state.get(state.DATASET_SEEN_STAGE_BP)
st.session_state[state.DATASET_SEEN_STAGE_BP] = status.stage_bp
action = load_controls(status, 100 * settings.initial_load_fraction, 100 * settings.batch_fraction)
if action is not None:
    with st.spinner("Loading…" if action != "reset" else "Unloading…"):
        try:
            if action == "initialize":
                result = database.initialize()
            elif action == "next_batch":
                result = database.load_next_batch(expected_bp=seen_stage)
            else:
                result = database.reset()
        except ManagerError as exc:
            st.error(str(exc))
            st.stop()
    st.session_state[state.DATASET_FLASH] = result.message
    st.rerun()

try:
    history = database.history()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

left, right = st.columns([3, 2])
with left:
    st.subheader("Load history")
    if history.empty:
        st.caption("No loads yet: click **Initialize**.")
    else:
        render_load_history(history)
with right:
    if not history.empty:
        st.plotly_chart(cumulative_share_chart(history))

# Stateful tabs: the open one survives reruns (a search keeps its tab), and only it is computed.
distribution_tab, text_tab, explorer_tab = st.tabs(
    ["Class distribution", "Text statistics", "Product explorer"],
    key=state.DATASET_TAB,
    on_change="rerun",
)
try:
    if distribution_tab.open:
        with distribution_tab:
            st.plotly_chart(class_distribution_chart(database.class_distribution()))
    if text_tab.open:
        with text_tab:
            render_text_stats(database.text_stats())
    if explorer_tab.open:
        with explorer_tab:
            filters = explorer_filters()
            found = database.search(filters.text, filters.code, filters.scope, filters.page)
            st.caption(f"{found.total:,} products · page {found.page} of {found.pages}")
            render_products(found)
except ManagerError as exc:
    st.error(str(exc))
