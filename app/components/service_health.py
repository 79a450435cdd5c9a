"""The API's service health: request rate, p95 latency and error rate over time, and by class."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.service_metrics import HealthPoint, ServiceHealth


def render_service_health(health: ServiceHealth) -> None:
    """Where the series come from (or why there are none yet), then the charts."""
    url = health.prometheus_url
    if url is None and not health.points:
        st.caption("Reading the API's metrics: rates appear from the next refresh on.")
    elif url is not None and not health.points:
        st.caption(f"Prometheus at {url} has no API series yet.")
    elif url is not None:
        st.caption(f"From Prometheus at {url}, last {health.minutes} minutes.")
    if health.points:
        health_charts(health.points, health.predictions)


def health_charts(points: Sequence[HealthPoint], predictions: dict[str, float]) -> None:
    """The latest values, each series over time, and predictions by class in the window."""
    latest = points[-1]
    rate, p95, errors = st.columns(3)
    rate.metric("Prediction requests", _shown(latest.request_rate, "{:.1f}/s"))
    p95.metric("p95 latency", _shown(latest.p95_ms, "{:.1f} ms"))
    errors.metric("Error rate (5xx)", _shown(latest.error_rate, "{:.1%}"))
    series = {
        "requests/s": [point.request_rate for point in points],
        "p95 ms": [point.p95_ms for point in points],
        "5xx share": [point.error_rate for point in points],
    }
    figure = make_subplots(rows=1, cols=len(series), subplot_titles=list(series))
    at = [point.at for point in points]
    for col, values in enumerate(series.values(), start=1):
        figure.add_trace(
            go.Scatter(x=at, y=values, mode="lines+markers", showlegend=False), row=1, col=col
        )
    figure.update_layout(height=220, margin={"l": 0, "r": 0, "t": 30, "b": 0})
    st.plotly_chart(figure, width="stretch")
    if predictions:
        ordered = sorted(predictions.items(), key=lambda item: item[1])
        bars = go.Figure(
            go.Bar(x=[v for _, v in ordered], y=[k for k, _ in ordered], orientation="h")
        )
        bars.update_layout(
            height=40 + 22 * len(ordered),
            margin={"l": 0, "r": 0, "t": 30, "b": 0},
            title="Predictions by class in the window",
        )
        st.plotly_chart(bars, width="stretch")


def _shown(value: float | None, form: str) -> str:
    return "—" if value is None else form.format(value)
