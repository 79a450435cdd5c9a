"""The Predictions page's pieces: the product form, the top-k chart, batch files, the history."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import state
from app.records import PredictionResult
from core.data.categories import CATEGORIES, CODES, label_for

MAX_BATCH_ROWS = 20_000
WINDOWS: dict[str, timedelta | None] = {
    "last hour": timedelta(hours=1), "last 24 hours": timedelta(days=1),
    "last 7 days": timedelta(days=7), "all time": None,
}  # fmt: skip
# A column name shown in a message: a plain word. Messages are Markdown, and a header is file
# content: a name like ``![x](http://…)`` would make the browser fetch the link.
PLAIN_NAME = re.compile(r"[\w -]{1,40}")


class BatchFileError(ValueError):
    """The uploaded file cannot be used for batch prediction; the message says why."""


@dataclass(frozen=True, slots=True)
class ProductInput:
    """What the person typed."""

    designation: str
    description: str


@dataclass(frozen=True, slots=True)
class HistoryFilters:
    """The history's filters."""

    code: int | None
    search: str
    since: datetime | None


def product_form(examples: pd.DataFrame | None) -> ProductInput | None:
    """Title and description, with holdout products to try; returns the input when submitted."""
    if examples is not None and not examples.empty:
        labels = {
            f"{row.designation[:70]}  ({label_for(int(row.prdtypecode))})": row
            for row in examples.itertuples()
        }

        def fill() -> None:
            chosen = labels.get(st.session_state[state.PREDICT_EXAMPLE])
            if chosen is not None:
                st.session_state[state.PREDICT_DESIGNATION] = chosen.designation
                st.session_state[state.PREDICT_DESCRIPTION] = chosen.description

        st.selectbox(
            "Try an example from the holdout", list(labels), index=None, key=state.PREDICT_EXAMPLE,
            on_change=fill, placeholder="pick a product — its true category is in brackets",
        )  # fmt: skip
    with st.form("predict"):
        designation = st.text_input(
            "Product title (designation)", key=state.PREDICT_DESIGNATION, max_chars=1000,
            placeholder="e.g. Piscine tubulaire ronde 3,66 x 0,76 m",
        )  # fmt: skip
        description = st.text_area(
            "Description (optional)", key=state.PREDICT_DESCRIPTION, height=100
        )
        submitted = st.form_submit_button("Predict", type="primary", icon=":material/bolt:")
    if not submitted:
        return None
    if not designation.strip():
        st.warning("Type a product title first.")
        return None
    return ProductInput(designation, description)


def render_prediction(result: PredictionResult, champion: int | None) -> None:
    """The answer: category, probability, served version, latency, and the top-k chart."""
    best, sure, version, speed = st.columns([3, 1, 1, 1])
    best.metric("Predicted category", f"{result.category}", help=f"code {result.code}")
    sure.metric("Probability", f"{result.probability:.1%}")
    stale = champion is not None and champion != result.model_version
    version.metric(
        "Served model", f"v{result.model_version}",
        delta=f"champion is v{champion}" if stale else None, delta_color="inverse",
    )  # fmt: skip
    speed.metric(
        "Latency", f"{result.latency_ms:.1f} ms", help=f"round trip {result.roundtrip_ms:.0f} ms"
    )
    st.plotly_chart(top_k_chart(result.top), width="stretch")


def top_k_chart(top: pd.DataFrame) -> go.Figure:
    """Horizontal bars, most probable on top, labelled with category names."""
    labels = [f"{row.category} ({row.code})" for row in top.itertuples()]
    figure = go.Figure(
        go.Bar(
            x=top["probability"], y=labels, orientation="h",
            text=[f"{p:.1%}" for p in top["probability"]], textposition="auto",
            marker_color=["#1f77b4"] + ["#9ecae1"] * (len(top) - 1),
        )
    )  # fmt: skip
    figure.update_layout(
        height=60 + 38 * len(top), margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title=f"Top {len(top)} categories", xaxis={"range": [0, 1], "tickformat": ".0%"},
        yaxis={"autorange": "reversed"},
    )  # fmt: skip
    return figure


def feedback_picker(request_id: str, predicted: int) -> int | None:
    """Ask for the true category of a prediction; returns it when saved."""
    with st.form(f"feedback-{request_id}"):
        true_code = st.selectbox(
            "True category", CODES, index=CODES.index(predicted), format_func=label_for,
            help="Mark what the product really is: the live accuracy is computed from these.",
        )  # fmt: skip
        if st.form_submit_button("Save feedback", icon=":material/fact_check:"):
            return int(true_code)
    return None


def parse_batch_csv(data: bytes, limit: int = MAX_BATCH_ROWS) -> pd.DataFrame:
    """Products to classify from a CSV with a ``designation`` column (``description`` optional).

    Raises:
        BatchFileError: the file is not a CSV, lacks ``designation``, is empty or too long.
    """
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"not a readable UTF-8 CSV file: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if "designation" not in frame.columns:
        raise BatchFileError(
            f"the CSV needs a 'designation' column (found: {_column_names(frame.columns)})"
        )
    if frame.empty:
        raise BatchFileError("the CSV has a header but no products")
    if len(frame) > limit:
        raise BatchFileError(f"{len(frame):,} rows is more than {limit:,}: split the file")
    blank = frame["designation"].str.strip() == ""
    if blank.any():
        rows = ", ".join(str(i + 2) for i in frame.index[blank][:5])  # +2: header, 1-based
        raise BatchFileError(f"{blank.sum()} row(s) have an empty designation (lines {rows})")
    if "description" not in frame.columns:
        frame["description"] = ""
    return frame


def batch_results_table(results: pd.DataFrame) -> None:
    """The batch's predictions, first columns first."""
    shown = ["designation", "category", "code", "probability"]
    rest = [c for c in results.columns if c not in shown and c != "description"]
    st.dataframe(
        results[shown + rest], hide_index=True, width="stretch",
        column_config={"probability": st.column_config.ProgressColumn(
            "probability", format="percent", min_value=0, max_value=1)},
    )  # fmt: skip


def history_filters() -> HistoryFilters:
    """Category, text search and time window of the history."""
    category, search, window = st.columns([2, 2, 1])
    code = category.selectbox(
        "Predicted category", [None, *CODES], key=state.PREDICT_FILTER_CODE,
        format_func=lambda c: "all categories" if c is None else label_for(c),
    )  # fmt: skip
    text = search.text_input("Search title or description", key=state.PREDICT_FILTER_SEARCH)
    span = window.selectbox("Time range", list(WINDOWS), index=1, key=state.PREDICT_FILTER_WINDOW)
    delta = WINDOWS[span]
    return HistoryFilters(code, text, datetime.now(UTC) - delta if delta else None)


def history_editor(history: pd.DataFrame) -> dict[str, int]:
    """The history with an editable "true category" column; returns the marks changed."""
    shown = history.assign(
        predicted=[label_for(int(c)) for c in history["predicted_code"]],
        true_category=[label_for(int(c)) if pd.notna(c) else None for c in history["true_code"]],
    )[["at", "designation", "predicted", "probability", "true_category", "model_version",
       "latency_ms", "request_id"]]  # fmt: skip
    edited = st.data_editor(
        shown, hide_index=True, width="stretch", key=state.PREDICT_HISTORY_EDITOR,
        disabled=[c for c in shown.columns if c != "true_category"],
        column_config={
            "at": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "probability": st.column_config.ProgressColumn(
                "probability", format="percent", min_value=0, max_value=1),
            "true_category": st.column_config.SelectboxColumn(
                "true category (feedback)", options=[c.label for c in CATEGORIES],
                help="Mark what the product really is"),
            "model_version": st.column_config.NumberColumn("version", format="v%d"),
            "latency_ms": st.column_config.NumberColumn("latency", format="%.1f ms"),
            "request_id": st.column_config.TextColumn("request id", width="small"),
        },
    )  # fmt: skip
    return feedback_changes(shown, edited)


def feedback_changes(shown: pd.DataFrame, edited: pd.DataFrame) -> dict[str, int]:
    """Request id → true code, for the rows whose "true category" was set or changed."""
    changed: dict[str, int] = {}
    for before, after in zip(shown.itertuples(), edited.itertuples(), strict=True):
        if after.true_category and after.true_category != before.true_category:
            changed[str(after.request_id)] = _code_of(str(after.true_category))
    return changed


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
            x=hourly.index, y=hourly["mean"], mode="lines+markers",
            text=[f"{n} marked" for n in hourly["count"]], hovertemplate="%{y:.0%} · %{text}",
        )
    )  # fmt: skip
    figure.update_layout(
        height=240, margin={"l": 0, "r": 0, "t": 30, "b": 0}, title="Live accuracy per hour",
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
    )  # fmt: skip
    return figure


def _column_names(columns: pd.Index) -> str:
    """The header's plain names (at most 8), and how many others are not shown."""
    plain = [str(c) for c in columns if PLAIN_NAME.fullmatch(str(c))][:8]
    hidden = len(columns) - len(plain)
    others = f"{hidden} column name{'s' if hidden > 1 else ''} not shown" if hidden else ""
    return " and ".join(part for part in (", ".join(plain), others) if part) or "none"


def _code_of(label: str) -> int:
    return int(label.split(" · ", 1)[0])  # labels are "<code> · <name>"
