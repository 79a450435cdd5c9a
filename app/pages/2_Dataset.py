"""Dataset: import a source, load it in stratified batches, and explore what is loaded."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import current_actor, get_managers, require_identity
from app.components.charts import class_distribution_chart
from app.components.dataset import (
    explorer_filters,
    import_form,
    import_message,
    load_controls,
    load_history_panel,
    render_text_stats,
)
from app.components.permissions import reason, refusals
from app.components.tables import render_products
from app.components.text import inert
from app.managers.errors import ManagerError
from core.access.permissions import Action

st.set_page_config(
    page_title="Dataset · Control Room", page_icon=":material/dataset:", layout="wide"
)
require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
managers = get_managers()
dataset, settings = managers.dataset, managers.settings
actor = current_actor()
st.title("Dataset")

try:
    status = dataset.status()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

if flash := st.session_state.pop(state.DATASET_FLASH, None):
    st.success(flash)

# Reading server paths is for one's own machine, not for a shared stack.
local = settings.mode == "local"
server_paths = (settings.challenge_x_path, settings.challenge_y_path) if local else None
with st.expander("Import data", expanded=status.source is None, icon=":material/upload:"):
    importing = Action.IMPORT_DATA if status.source is None else Action.REPLACE_DATA
    request = import_form(
        status, settings.synthetic_rows, server_paths, disabled_reason=reason(actor, importing)
    )
if request is not None:
    with st.status("Importing…", expanded=True) as progress:
        try:
            replace, step = request.replace, progress.write
            if request.x is None:
                summary = dataset.import_builtin(
                    request.rows, actor=actor, replace=replace, progress=step
                )
            else:
                summary = dataset.import_files(
                    request.x, request.y, actor=actor, replace=replace, progress=step
                )
        except ManagerError as exc:
            progress.update(label="Import refused", state="error")
            st.error(inert(str(exc)))  # it quotes the file's name and cells
            st.stop()
    st.session_state.pop(state.DATASET_REPLACE, None)  # consent is for one import only
    st.session_state[state.DATASET_FLASH] = import_message(summary)
    st.rerun()
if status.source is None:
    st.info("No dataset yet: import the built-in catalogue or the challenge files above.")
    st.stop()

refused = refusals(actor, Action.INITIALIZE, Action.LOAD_NEXT_BATCH, Action.RESET)
initial_pct, batch_pct = 100 * settings.initial_load_fraction, 100 * settings.batch_fraction
load = load_controls(status, initial_pct, batch_pct, refused)
if load is not None:
    with st.spinner("Loading…" if load.action != "reset" else "Unloading…"):
        try:
            if load.action == "initialize":
                result = dataset.initialize(actor)
            elif load.action == "next_batch":
                result = dataset.load_next_batch(actor, expected_bp=load.expected_bp)
            else:
                result = dataset.reset(actor)
        except ManagerError as exc:
            st.error(str(exc))
            st.stop()
    st.session_state[state.DATASET_FLASH] = result.message
    st.rerun()

try:
    load_history_panel(dataset.history())
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

# Stateful tabs: the open one survives reruns (a search keeps its tab), and only it is computed.
distribution_tab, text_tab, explorer_tab = st.tabs(
    ["Class distribution", "Text statistics", "Product explorer"],
    key=state.DATASET_TAB,
    on_change="rerun",
)
try:
    if distribution_tab.open:
        with distribution_tab:
            st.plotly_chart(class_distribution_chart(dataset.class_distribution()))
    if text_tab.open:
        with text_tab:
            render_text_stats(dataset.text_stats())
    if explorer_tab.open:
        with explorer_tab:
            filters = explorer_filters()
            render_products(dataset.search(filters.text, filters.code, filters.scope, filters.page))
except ManagerError as exc:
    st.error(str(exc))
