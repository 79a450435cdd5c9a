"""Dataset page widgets. Each renders inputs and returns what the person asked for, if anything;
the page carries it out through the managers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from app import state
from app.components.charts import cumulative_share_chart, text_length_chart
from app.components.permissions import NO_REFUSALS, explain
from app.components.tables import render_load_history
from app.components.text import inert
from core.access.permissions import Action
from core.data.categories import CATEGORIES
from core.data.importer import NamedSource
from core.data.queries import DatasetStatus, Scope, TextStats
from core.data.synthetic import MAX_ROWS, MIN_ROWS
from core.usecases.dataset import ImportSummary

LoadAction = Literal["initialize", "next_batch", "reset"]
SOURCES = (
    "Built-in catalogue",
    "Challenge files (X + Y)",
    "One labelled CSV",
    "Challenge files on this machine",
)


@dataclass(frozen=True)
class ImportRequest:
    """An import the person confirmed: the built-in catalogue (``x`` is None) or files."""

    rows: int
    x: NamedSource | None
    y: NamedSource | None
    replace: bool


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """A load the person asked for, and the stage they saw when they asked (``expected_bp``):
    a second click on a page that has not caught up yet must not load a second batch."""

    action: LoadAction
    expected_bp: int | None


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """The product explorer's query."""

    text: str
    code: int | None
    scope: Scope
    page: int


def import_form(
    status: DatasetStatus,
    default_rows: int,
    server_paths: tuple[Path | None, Path | None] | None,
    disabled_reason: str | None = None,
) -> ImportRequest | None:
    """Source choice and the Import button; returns the request when clicked with valid input.

    ``server_paths`` (default X and Y paths) enables reading files on the server; None hides it.
    ``disabled_reason`` (the role the import needs) disables the button and says why.
    """
    sources = SOURCES if server_paths is not None else SOURCES[:3]
    source = st.radio("Source", sources, horizontal=True, key=state.DATASET_SOURCE)
    rows, x, y = default_rows, None, None
    if source == SOURCES[0]:
        rows = st.number_input(
            "Catalogue size (rows)",
            min_value=MIN_ROWS,
            max_value=MAX_ROWS,
            value=default_rows,
            step=1_000,
            key=state.DATASET_BUILTIN_ROWS,
            help="84,916 is the size of the real challenge training set, with its class counts.",
        )
    elif source == SOURCES[1]:
        left, right = st.columns(2)
        x = _named(left.file_uploader("X_train_update.csv", type="csv"))
        y = _named(right.file_uploader("Y_train_CVw08PX.csv", type="csv"))
    elif source == SOURCES[2]:
        x = _named(st.file_uploader("CSV with designation, description, productid, prdtypecode"))
    elif server_paths is not None:
        x_path, y_path = server_paths
        left, right = st.columns(2)
        x = _path(left.text_input("Path of X_train_update.csv", value=str(x_path or "")))
        y = _path(right.text_input("Path of Y_train_CVw08PX.csv", value=str(y_path or "")))
    replace = True
    if status.source is not None:
        st.warning(
            f"Importing replaces **{status.source}**: loaded products and the load history are "
            "cleared, and a new holdout is drawn."
        )
        replace = st.checkbox("Replace the current dataset", key=state.DATASET_REPLACE)
    missing_files = source != SOURCES[0] and (x is None or (source != SOURCES[2] and y is None))
    if st.button(
        "Import",
        type="primary",
        disabled=missing_files or not replace or disabled_reason is not None,
        help=disabled_reason,
    ):
        return ImportRequest(int(rows), x, y, replace=status.source is not None)
    return None


def import_message(summary: ImportSummary) -> str:
    """What an import did (the source's name is the file's: shown inert)."""
    return (
        f"Imported {inert(summary.source)}: {summary.pool_rows:,} products in the pool, "
        f"{summary.holdout_rows:,} in the fixed holdout."
    )


def load_controls(
    status: DatasetStatus,
    initial_pct: float,
    batch_pct: float,
    refused: Mapping[Action, str] = NO_REFUSALS,
) -> LoadRequest | None:
    """Loaded-share metrics and the Initialize / Load next batch / Reset buttons; those whose
    action is ``refused`` are disabled with the reason."""
    seen_bp = st.session_state.get(state.DATASET_SEEN_STAGE_BP)  # what the last run showed
    st.session_state[state.DATASET_SEEN_STAGE_BP] = status.stage_bp
    cols = st.columns(5)
    cols[0].metric("Loaded share", f"{100 * status.share:.1f} %")
    cols[1].metric("Products loaded", f"{status.loaded_rows:,}")
    cols[2].metric("Pool", f"{status.pool_rows:,}")
    cols[3].metric("Holdout (fixed)", f"{status.holdout_rows:,}")
    cols[4].metric("Stage", f"{status.stage_bp / 100:g} %")
    st.caption(f"Source: {status.source}")
    st.progress(min(status.share, 1.0))
    complete = status.stage_bp >= 10_000
    buttons = st.container(horizontal=True)
    if buttons.button(
        f"Initialize ({initial_pct:g} %)",
        type="primary",
        disabled=status.stage_bp > 0 or Action.INITIALIZE in refused,
        icon=":material/play_arrow:",
        help=refused.get(Action.INITIALIZE),
    ):
        return LoadRequest("initialize", seen_bp)
    if buttons.button(
        f"Load next batch (+{batch_pct:g} %)",
        disabled=status.stage_bp == 0 or complete or Action.LOAD_NEXT_BATCH in refused,
        icon=":material/add:",
        help=explain(
            refused.get(Action.LOAD_NEXT_BATCH), "All products are loaded." if complete else None
        ),
    ):
        return LoadRequest("next_batch", seen_bp)
    with buttons.popover(
        "Reset…",
        disabled=status.loaded_rows == 0 or Action.RESET in refused,
        icon=":material/restart_alt:",
        help=refused.get(Action.RESET),
    ):
        st.write(f"Unload all {status.loaded_rows:,} products? The pool and holdout stay.")
        if st.button("Yes, unload everything", type="primary", key=state.DATASET_RESET_CONFIRM):
            return LoadRequest("reset", seen_bp)
    return None


def load_history_panel(history: pd.DataFrame) -> None:
    """Every load so far as a table, beside the loaded share over time."""
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


def render_text_stats(stats: TextStats) -> None:
    """Headline text figures and the length distributions."""
    if stats.rows == 0:
        st.caption("Nothing loaded yet.")
        return
    cols = st.columns(4)
    cols[0].metric("Products loaded", f"{stats.rows:,}")
    cols[1].metric("Median title length", f"{stats.title_lengths.median():.0f} chars")
    cols[2].metric("Empty descriptions", f"{100 * stats.empty_description_share:.1f} %")
    cols[3].metric("Descriptions with HTML", f"{100 * stats.html_share:.1f} %")
    st.plotly_chart(text_length_chart(stats))


def explorer_filters() -> SearchFilters:
    """Search box, category filter, scope and page number."""
    cols = st.columns([3, 2, 1, 1])
    # A new query starts at page 1.
    text = cols[0].text_input(
        "Search title or description", key=state.DATASET_SEARCH, on_change=_first_page
    )
    codes = [None, *(c.code for c in CATEGORIES)]
    labels = {c.code: c.label for c in CATEGORIES}
    code = cols[1].selectbox(
        "Category",
        codes,
        key=state.DATASET_SEARCH_CODE,
        on_change=_first_page,
        format_func=lambda c: "All categories" if c is None else labels[c],
    )
    scope = cols[2].selectbox(
        "In", ("loaded", "pool", "holdout"), key=state.DATASET_SEARCH_SCOPE, on_change=_first_page
    )
    page = cols[3].number_input("Page", min_value=1, value=1, step=1, key=state.DATASET_PAGE)
    return SearchFilters(text=text, code=code, scope=cast(Scope, scope), page=int(page))


def _first_page() -> None:
    st.session_state[state.DATASET_PAGE] = 1


def _named(upload: UploadedFile | None) -> NamedSource | None:
    return NamedSource(upload.getvalue(), upload.name) if upload is not None else None


def _path(text: str) -> NamedSource | None:
    # The file is read (and a missing one reported) by the importer, not here.
    return NamedSource(Path(text.strip()), Path(text.strip()).name) if text.strip() else None
