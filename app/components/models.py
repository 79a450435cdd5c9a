"""Runs, run details and the registry: tables and plotly figures."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import state
from app.records import RunDetail
from core.data.categories import label_for
from core.evaluate import most_confused
from core.registry import VersionInfo

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
METRICS = {"weighted_f1": "Weighted F1", "macro_f1": "Macro F1", "accuracy": "Accuracy"}


def runs_panel(runs: pd.DataFrame) -> str | None:
    """The runs table, and the comparison of those selected; returns the first selected run."""
    if runs.empty:
        st.caption("No runs yet: train a model above.")
        return None
    st.caption("Select runs to compare them; the first selected one is shown in detail.")
    selected = runs_table(runs)
    if len(selected) >= 2:
        st.plotly_chart(compare_chart(runs[runs["run_id"].isin(selected)]))
    return selected[0] if selected else None


def runs_table(runs: pd.DataFrame) -> list[str]:
    """The runs with their scores and registry state; returns the run ids the person selected."""
    event = st.dataframe(
        runs,
        hide_index=True,
        # Selections are row positions: a new run shifts the rows, so it starts a new selection.
        key=f"{state.TRAINING_RUNS}_{hash(tuple(runs['run_id']))}",
        on_select="rerun",
        selection_mode="multi-row",
        column_order=(
            "started",
            "name",
            "weighted_f1",
            "macro_f1",
            "accuracy",
            "fit_seconds",
            "data_loaded_pct",
            "data_rows",
            "feedback_rows",
            "classifier",
            "c",
            "max_features",
            "char_ngrams",
            "version",
            "aliases",
        ),
        column_config={
            "started": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm"),
            "name": "Run",
            "weighted_f1": st.column_config.NumberColumn("Weighted F1", format="%.4f"),
            "macro_f1": st.column_config.NumberColumn("Macro F1", format="%.4f"),
            "accuracy": st.column_config.NumberColumn("Accuracy", format="%.4f"),
            "fit_seconds": st.column_config.NumberColumn("Fit (s)", format="%.1f"),
            "data_loaded_pct": st.column_config.NumberColumn("Data %", format="%.1f"),
            "data_rows": st.column_config.NumberColumn(
                "Rows", format="%d", help="Loaded products the run learnt from"
            ),
            "feedback_rows": st.column_config.NumberColumn(
                "Feedback rows",
                format="%d",
                help="Products labelled on the Predictions page the run learnt from too "
                "(blank: logged before feedback was training data)",
            ),
            "classifier": "Classifier",
            "c": "C",
            "max_features": "Vocabulary",
            "char_ngrams": "Chars",
            "version": st.column_config.NumberColumn("Version", format="v%d"),
            "aliases": "Aliases",
        },
    )
    rows = event.selection.rows if event is not None else []
    return [runs.iloc[i]["run_id"] for i in rows]


def compare_chart(runs: pd.DataFrame) -> go.Figure:
    """Headline metrics of several runs side by side."""
    fig = go.Figure()
    labels = [f"{r.name} ({r.started:%m-%d %H:%M})" for r in runs.itertuples()]
    for column, title in METRICS.items():
        fig.add_bar(x=labels, y=runs[column], name=title, texttemplate="%{y:.3f}")
    low = max(0.0, float(runs[list(METRICS)].min().min()) - 0.05)
    fig.update_layout(
        title="Holdout scores",
        barmode="group",
        yaxis={"range": [low, 1]},
        height=360,
        margin=_MARGIN,
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def confusion_heatmap(confusion: pd.DataFrame) -> go.Figure:
    """Row-normalised confusion matrix with category names (hover shows counts)."""
    counts = confusion.to_numpy()
    share = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    names = [label_for(int(c)) for c in confusion.index]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            colorscale="Reds",
            zmin=0,
            zmax=1,
            customdata=counts,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} products "
            "(%{z:.1%} of the class)<extra></extra>",
        )
    )
    fig.update_layout(
        title="Confusion on the holdout (share of each true class)",
        height=720,
        margin=_MARGIN,
        yaxis={"autorange": "reversed", "title": "true"},
        xaxis={"title": "predicted"},
    )
    return fig


def per_class_chart(per_class: pd.DataFrame) -> go.Figure:
    """F1 per category, worst at the top."""
    ordered = per_class.sort_values("f1", ascending=False)
    fig = go.Figure(
        go.Bar(
            x=ordered["f1"],
            y=ordered["label"],
            orientation="h",
            marker_color="#bf0000",
            customdata=ordered[["precision", "recall", "support"]],
            hovertemplate="%{y}<br>F1 %{x:.3f}<br>precision %{customdata[0]:.3f}, recall "
            "%{customdata[1]:.3f}<br>%{customdata[2]} products<extra></extra>",
        )
    )
    fig.update_layout(title="F1 per category", height=720, margin=_MARGIN, xaxis={"range": [0, 1]})
    return fig


def versions_table(versions: list[VersionInfo]) -> None:
    """Registered versions with their aliases and scores."""
    st.dataframe(
        pd.DataFrame(
            {
                "version": [v.version for v in versions],
                "aliases": [", ".join(v.aliases) for v in versions],
                "weighted_f1": [v.weighted_f1 for v in versions],
                "data_loaded_pct": [v.data_loaded_pct for v in versions],
                "learnt_from": [v.learnt_from for v in versions],
                "created_at": [v.created_at for v in versions],
            }
        ),
        hide_index=True,
        column_config={
            "version": st.column_config.NumberColumn("Version", format="v%d"),
            "aliases": "Aliases",
            "weighted_f1": st.column_config.NumberColumn("Weighted F1", format="%.4f"),
            "data_loaded_pct": st.column_config.NumberColumn("Data %", format="%.1f"),
            "learnt_from": st.column_config.TextColumn(
                "Learnt from", help="Blank: registered before feedback was training data"
            ),
            "created_at": st.column_config.DatetimeColumn(
                "Registered (UTC)", format="YYYY-MM-DD HH:mm"
            ),
        },
    )


def promotion_log_table(log: pd.DataFrame) -> None:
    """Every promotion and rollback, newest first."""
    st.dataframe(
        log,
        hide_index=True,
        column_order=(
            "at",
            "action",
            "from_version",
            "to_version",
            "candidate_f1",
            "champion_f1",
            "triggered_by",
            "reason",
        ),
        column_config={
            "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "action": "Action",
            "from_version": st.column_config.NumberColumn("From", format="v%d"),
            "to_version": st.column_config.NumberColumn("To", format="v%d"),
            "candidate_f1": st.column_config.NumberColumn("New F1", format="%.4f"),
            "champion_f1": st.column_config.NumberColumn("Old F1", format="%.4f"),
            "triggered_by": "By",
            "reason": st.column_config.TextColumn("Reason", width="large"),
        },
    )


def run_detail_panel(detail: RunDetail) -> None:
    """One run's headline score, confusion matrix, per-class F1 and most confused pairs."""
    f1 = detail.metrics.get("weighted_f1")
    st.markdown(f"**{detail.name}**" + (f" — weighted F1 {f1:.4f}" if f1 is not None else ""))
    matrix, classes, pairs = st.tabs(["Confusion matrix", "Per-class F1", "Most confused"])
    matrix.plotly_chart(confusion_heatmap(detail.confusion))
    classes.plotly_chart(per_class_chart(detail.per_class))
    share = st.column_config.NumberColumn("Share of the true class", format="percent")
    pairs.dataframe(
        most_confused(detail.confusion), hide_index=True, column_config={"share": share}
    )
