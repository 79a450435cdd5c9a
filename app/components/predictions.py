"""The Predictions page's single product: what is served, the form, the answer, its feedback.

The batch tab's pieces are in :mod:`app.components.batch`, the history's in
:mod:`app.components.prediction_history`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import state
from app.components.explanation import render_explanation
from app.records import ApiHealth, PredictionResult
from core.data.categories import CODES, label_for
from core.data.queries import ExampleProduct


@dataclass(frozen=True, slots=True)
class ProductInput:
    """What the person typed."""

    designation: str
    description: str


def serving_banner(health: ApiHealth | None, champion: int | None, docs_url: str | None) -> None:
    """Which version the API serves (flagged when it is not the champion yet), or why none.

    ``health`` is None when the API is unreachable (the page has said so already).
    """
    if health is None:
        return
    if not health.model_loaded and not health.last_error:
        st.info(
            f"The API at {health.url} is loading the champion: it answers once it has loaded it, "
            "in a few seconds.",
            icon=":material/hourglass_empty:",
        )
        return
    if not health.model_loaded:
        st.warning(
            f"The API at {health.url} is up but serves no model: "
            f"{health.last_error}. Promote a champion on the Training page; the API "
            f"picks it up within {health.poll_seconds:g} s.",
            icon=":material/hourglass_empty:",
        )
        return
    if health.serving_local_copy or health.registry_unreachable_since:
        # Answers still come, but from a version the registry cannot confirm right now.
        st.warning(
            f"The API at {health.url} cannot reach the model registry (MLflow): "
            f"{health.last_error}. It keeps serving v{health.version}.",
            icon=":material/cloud_off:",
        )
    line = f"Serving **v{health.version}** of the registry model from {health.url}"
    if champion is not None and champion != health.version:
        line += f" · :orange[champion is v{champion}: the API has not switched yet]"
    if health.shadow_version is not None:
        line += (
            f" · challenger **v{health.shadow_version}** scores {health.shadow_share:.0%} of "
            "requests in shadow (compare them on the Training page)"
        )
    if docs_url:
        line += f" · [API docs]({docs_url})"
    st.caption(line)


def product_form(examples: Sequence[ExampleProduct] | None) -> ProductInput | None:
    """Title and description, with holdout products to try; returns the input when submitted."""
    if examples:
        labels = {
            f"{example.designation[:70]}  ({label_for(example.prdtypecode)})": example
            for example in examples
        }

        def fill() -> None:
            chosen = labels.get(st.session_state[state.PREDICT_EXAMPLE])
            if chosen is not None:
                st.session_state[state.PREDICT_DESIGNATION] = chosen.designation
                st.session_state[state.PREDICT_DESCRIPTION] = chosen.description

        st.selectbox(
            "Try an example from the holdout",
            list(labels),
            index=None,
            key=state.PREDICT_EXAMPLE,
            on_change=fill,
            placeholder="pick a product — its true category is in brackets",
        )
    with st.form("predict"):
        designation = st.text_input(
            "Product title (designation)",
            key=state.PREDICT_DESIGNATION,
            max_chars=1000,
            placeholder="e.g. Piscine tubulaire ronde 3,66 x 0,76 m",
        )
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


def prediction_panel(
    result: PredictionResult,
    champion: int | None,
    asked: ProductInput | None = None,
    disabled_reason: str | None = None,
) -> int | None:
    """The answer, why (when it came with an explanation of ``asked``), and the form to mark its
    true category; returns that category when saved (``disabled_reason``: the role feedback
    needs, shown on the disabled button)."""
    render_prediction(result, champion)
    if result.explanation is not None and asked is not None:
        render_explanation(result.explanation, asked.designation, asked.description)
    return feedback_picker(result.request_id, result.code, disabled_reason)


def render_prediction(result: PredictionResult, champion: int | None) -> None:
    """The answer: category, probability, served version, latency, and the top-k chart."""
    best, sure, version, speed = st.columns([3, 1, 1, 1])
    best.metric("Predicted category", f"{result.category}", help=f"code {result.code}")
    sure.metric("Probability", f"{result.probability:.1%}")
    stale = champion is not None and champion != result.model_version
    version.metric(
        "Served model",
        f"v{result.model_version}",
        delta=f"champion is v{champion}" if stale else None,
        delta_color="inverse",
    )
    speed.metric(
        "Latency", f"{result.latency_ms:.1f} ms", help=f"round trip {result.roundtrip_ms:.0f} ms"
    )
    st.plotly_chart(top_k_chart(result.top), width="stretch")


def top_k_chart(top: pd.DataFrame) -> go.Figure:
    """Horizontal bars, most probable on top, labelled with category names."""
    labels = [f"{row.category} ({row.code})" for row in top.itertuples()]
    figure = go.Figure(
        go.Bar(
            x=top["probability"],
            y=labels,
            orientation="h",
            text=[f"{p:.1%}" for p in top["probability"]],
            textposition="auto",
            marker_color=["#1f77b4"] + ["#9ecae1"] * (len(top) - 1),
        )
    )
    figure.update_layout(
        height=60 + 38 * len(top),
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title=f"Top {len(top)} categories",
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        yaxis={"autorange": "reversed"},
    )
    return figure


def feedback_picker(
    request_id: str, predicted: int, disabled_reason: str | None = None
) -> int | None:
    """Ask for the true category of a prediction; returns it when saved."""
    with st.form(f"feedback-{request_id}"):
        true_code = st.selectbox(
            "True category",
            CODES,
            index=CODES.index(predicted),
            format_func=label_for,
            help="Mark what the product really is: the live accuracy is computed from these.",
        )
        if st.form_submit_button(
            "Save feedback",
            icon=":material/fact_check:",
            disabled=disabled_reason is not None,
            help=disabled_reason,
        ):
            return int(true_code)
    return None


def feedback_saved(result: PredictionResult, true_code: int) -> None:
    """Confirm a saved mark, saying whether the prediction was right."""
    verdict = "correct" if true_code == result.code else f"wrong (was {result.category})"
    st.success(f"Feedback saved: {label_for(true_code)} — the prediction was {verdict}")
