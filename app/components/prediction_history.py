"""The Predictions page's history tab: filters, the counts, the feedback editor, live accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import state
from core.data.categories import CATEGORIES, CODES, label_for
from core.inference_log import FeedbackAccuracy

WINDOWS: dict[str, timedelta | None] = {
    "last hour": timedelta(hours=1),
    "last 24 hours": timedelta(days=1),
    "last 7 days": timedelta(days=7),
    "all time": None,
}


@dataclass(frozen=True, slots=True)
class HistoryFilters:
    """The history's filters."""

    code: int | None
    search: str
    since: datetime | None


def history_filters() -> HistoryFilters:
    """Category, text search and time window of the history."""
    category, search, window = st.columns([2, 2, 1])
    code = category.selectbox(
        "Predicted category",
        [None, *CODES],
        key=state.PREDICT_FILTER_CODE,
        format_func=lambda c: "all categories" if c is None else label_for(c),
    )
    text = search.text_input("Search title or description", key=state.PREDICT_FILTER_SEARCH)
    span = window.selectbox("Time range", list(WINDOWS), index=1, key=state.PREDICT_FILTER_WINDOW)
    delta = WINDOWS[span]
    return HistoryFilters(code, text, datetime.now(UTC) - delta if delta else None)


def history_panel(
    history: pd.DataFrame, accuracy: FeedbackAccuracy, disabled_reason: str | None = None
) -> dict[str, int]:
    """The counts, then the history with its feedback editor; returns the marks to save when
    *Save* is clicked. ``disabled_reason`` (the role feedback needs) makes the editor read-only
    and says why on a disabled *Save*."""
    left, middle, right = st.columns(3)
    left.metric("Predictions", f"{len(history):,}", help="in this view (at most 500 shown)")
    middle.metric("With feedback", f"{accuracy.labelled:,}")
    right.metric(
        "Live accuracy",
        f"{accuracy.accuracy:.1%}" if accuracy.accuracy is not None else "—",
        help="correct / marked, over the time range chosen",
    )
    if history.empty:
        st.info("No predictions here yet: classify a product, or widen the filters.")
        return {}
    if disabled_reason is not None:
        history_editor(history, read_only=True)
        st.button("Save feedback marks", disabled=True, help=disabled_reason)
        return {}
    changes = history_editor(history)
    if changes and st.button(f"Save {len(changes)} feedback mark(s)", type="primary"):
        return changes
    return {}


def history_editor(history: pd.DataFrame, read_only: bool = False) -> dict[str, int]:
    """The history with an editable "true category" column and who marked it; returns the marks
    changed."""
    shown = history.assign(
        predicted=[label_for(int(c)) for c in history["predicted_code"]],
        true_category=[label_for(int(c)) if pd.notna(c) else None for c in history["true_code"]],
    )[
        [
            "at",
            "designation",
            "predicted",
            "probability",
            "true_category",
            "feedback_by",
            "model_version",
            "latency_ms",
            "request_id",
        ]
    ]
    edited = st.data_editor(
        shown,
        hide_index=True,
        width="stretch",
        key=state.PREDICT_HISTORY_EDITOR,
        disabled=True if read_only else [c for c in shown.columns if c != "true_category"],
        column_config={
            "at": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "probability": st.column_config.ProgressColumn(
                "probability", format="percent", min_value=0, max_value=1
            ),
            "true_category": st.column_config.SelectboxColumn(
                "true category (feedback)",
                options=[c.label for c in CATEGORIES],
                help="Mark what the product really is",
            ),
            "feedback_by": st.column_config.TextColumn(
                "marked by", help="Who gave the feedback (email, else their subject)"
            ),
            "model_version": st.column_config.NumberColumn("version", format="v%d"),
            "latency_ms": st.column_config.NumberColumn("latency", format="%.1f ms"),
            "request_id": st.column_config.TextColumn("request id", width="small"),
        },
    )
    return feedback_changes(shown, edited)


def feedback_changes(shown: pd.DataFrame, edited: pd.DataFrame) -> dict[str, int]:
    """Request id → true code, for the rows whose "true category" was set or changed."""
    changed: dict[str, int] = {}
    for before, after in zip(shown.itertuples(), edited.itertuples(), strict=True):
        if after.true_category and after.true_category != before.true_category:
            changed[str(after.request_id)] = _code_of(str(after.true_category))
    return changed


def render_accuracy(history: pd.DataFrame) -> None:
    """The live accuracy per hour, once some predictions have feedback."""
    if not history.empty and (figure := accuracy_chart(history)) is not None:
        st.plotly_chart(figure, width="stretch")


def accuracy_chart(history: pd.DataFrame) -> go.Figure | None:
    """Share of correct predictions among those with feedback, per hour, with the counts."""
    marked = history.dropna(subset=["true_code"])
    if marked.empty:
        return None
    hourly = (
        marked.assign(correct=marked["predicted_code"] == marked["true_code"])
        .set_index("at")
        .resample("1h")["correct"]
        .agg(["mean", "count"])
        .dropna()
    )
    figure = go.Figure(
        go.Scatter(
            x=hourly.index,
            y=hourly["mean"],
            mode="lines+markers",
            text=[f"{n} marked" for n in hourly["count"]],
            hovertemplate="%{y:.0%} · %{text}",
        )
    )
    figure.update_layout(
        height=240,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title="Live accuracy per hour",
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
    )
    return figure


def _code_of(label: str) -> int:
    return int(label.split(" · ", 1)[0])  # labels are "<code> · <name>"
