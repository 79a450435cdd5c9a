"""The Monitoring page's pieces: the verdict, drift over time, the report, the traffic simulator."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import streamlit.components.v1 as components
from plotly.subplots import make_subplots

from app.components.status import format_age
from app.records import DeploymentInfo
from core.simulate import SCENARIOS, Scenario

STATE_DOTS = {"COMPLETED": "🟢", "FAILED": "🔴", "CRASHED": "🔴", "CANCELLED": "⚫",
              "RUNNING": "🔵", "PENDING": "🟡", "SCHEDULED": "⚪"}  # fmt: skip
REPORT_HEIGHT = 1000


@dataclass(frozen=True, slots=True)
class TrafficRequest:
    """What the simulator should send."""

    count: int
    scenario: Scenario
    strength: float


def render_verdict(latest: pd.Series) -> None:
    """The latest drift check: verdict, share against the threshold, drifted columns, decision."""
    drifted = latest.verdict == "drift"
    verdict, share, columns, when = st.columns([1, 1, 2, 1])
    verdict.metric("Verdict", latest.verdict)
    share.metric(
        "Drift share", f"{latest.drift_share:.0%}", help="share of compared columns that drifted",
        delta=f"threshold {latest.threshold:.0%}", delta_color="off",
    )  # fmt: skip
    columns.metric("Drifted columns", latest.drifted_columns.replace(",", ", ") or "none")
    when.metric("Checked", format_age(latest["at"].to_pydatetime()))
    version = f"v{int(latest.champion_version)}" if pd.notna(latest.champion_version) else "—"
    decision = latest.decision or "(decision pending)"
    (st.warning if drifted else st.success)(
        f"**{latest.verdict}** on {latest.current_rows:,} predictions against "
        f"{latest.reference_rows:,} training products of champion {version} — {decision}",
        icon=":material/warning:" if drifted else ":material/check_circle:",
    )


def drift_share_chart(runs: pd.DataFrame) -> go.Figure:
    """Drift share per check over time, with the threshold; drift checks in red."""
    ordered = runs.sort_values("at")
    colours = ["#d62728" if v == "drift" else "#2ca02c" for v in ordered["verdict"]]
    figure = go.Figure(
        go.Scatter(
            x=ordered["at"], y=ordered["drift_share"], mode="lines+markers",
            marker={"color": colours, "size": 10}, line={"color": "#999"},
            text=ordered["decision"], hovertemplate="%{y:.0%}<br>%{text}<extra></extra>",
            name="drift share",
        )
    )  # fmt: skip
    figure.add_hline(
        y=float(ordered["threshold"].iloc[-1]), line_dash="dash", line_color="#d62728",
        annotation_text="threshold",
    )  # fmt: skip
    figure.update_layout(
        height=260, margin={"l": 0, "r": 0, "t": 30, "b": 0}, title="Drift share over time",
        yaxis={"range": [0, 1.05], "tickformat": ".0%"}, showlegend=False,
    )  # fmt: skip
    return figure


def report_picker(runs: pd.DataFrame) -> str:
    """Choose a check; returns its report file (the latest by default)."""
    labels = {
        f"{row.at:%Y-%m-%d %H:%M} UTC · {row.verdict} ({row.drift_share:.0%})": row.report_file
        for row in runs.itertuples()
    }
    chosen = st.selectbox("Report", list(labels), index=0)
    return labels[chosen]


def embed_report(html: str) -> None:
    """Evidently's own interactive report, in a frame that cannot reach the control room."""
    components.html(sandboxed_frame(html, REPORT_HEIGHT), height=REPORT_HEIGHT)


def sandboxed_frame(html: str, height: int) -> str:
    """A page holding ``html`` in an ``<iframe sandbox="allow-scripts">``.

    Streamlit's own frame shares the control room's origin (its sandbox allows scripts and the
    same origin), and a report shows text anyone can send to the API. One level down, sandboxed
    to scripts only, the report runs in an opaque origin: its own charts work, but a script that
    got into its data cannot touch the page, its cookies or its storage, nor navigate it. The
    wrapper itself runs nothing, and the report reaches it only as an escaped attribute value.
    """
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">'
        f'<iframe sandbox="allow-scripts" title="Evidently report" srcdoc="{escape(html)}" '
        f'style="border:0;width:100%;height:{height - 8}px"></iframe></body></html>'
    )


def traffic_form(ready: bool) -> TrafficRequest | None:
    """The simulator's settings; returns them when Send is pressed."""
    with st.form("simulate"):
        count_col, scenario_col, strength_col = st.columns([1, 2, 1])
        count = count_col.number_input("Predictions", 30, 5_000, 500, step=50)
        scenario = scenario_col.selectbox(
            "Drift to inject", list(SCENARIOS), format_func=lambda s: SCENARIOS[s]
        )
        strength = strength_col.slider("Strength", 0.0, 1.0, 0.7, 0.05,
                                       help="share of the products the drift touches")  # fmt: skip
        sent = st.form_submit_button(
            "Send traffic", icon=":material/send:", disabled=not ready,
            help=None if ready else "the API is not serving a model",
        )  # fmt: skip
    return TrafficRequest(int(count), scenario, float(strength)) if sent else None


def deployments_table(deployments: list[DeploymentInfo]) -> str | None:
    """The deployments with schedule, state, next run and latest runs; a pause/resume button
    per scheduled one. Returns the deployment whose button was pressed."""
    pressed = None
    for deployment in deployments:
        name, schedule, runs, action = st.columns([2, 2, 3, 1])
        name.markdown(
            f"**{deployment.name}**" + (" · :orange[paused]" if deployment.paused else "")
        )
        if deployment.schedules:
            upcoming = (
                f"next {deployment.next_run:%Y-%m-%d %H:%M} UTC" if deployment.next_run and
                not deployment.paused else "no run scheduled"
            )  # fmt: skip
            schedule.markdown(f"`{', '.join(deployment.schedules)}` (UTC) · {upcoming}")
        else:
            schedule.markdown("on demand")
        states = (
            " ".join(f"{STATE_DOTS.get(r.state_type, '⚪')}" for r in deployment.recent)
            or "no runs yet"
        )
        runs.markdown(f"latest runs: {states}", help="newest first; 🟢 completed, 🔴 failed")
        if deployment.schedules and action.button(
            "Resume" if deployment.paused else "Pause", key=f"pause-{deployment.name}",
            icon=":material/play_arrow:" if deployment.paused else ":material/pause:",
        ):  # fmt: skip
            pressed = deployment.name
    return pressed


def health_charts(history: pd.DataFrame, predictions: dict[str, float]) -> None:
    """Request rate, p95 latency and error rate over time; predictions by class in the window."""
    latest = history.iloc[-1]
    rate, p95, errors = st.columns(3)
    rate.metric("Prediction requests", f"{latest.request_rate:.1f}/s")
    p95.metric("p95 latency", f"{latest.p95_ms:.1f} ms" if pd.notna(latest.p95_ms) else "—")
    errors.metric("Error rate (5xx)", f"{latest.error_rate:.1%}")
    figure = make_subplots(rows=1, cols=3, subplot_titles=("requests/s", "p95 ms", "5xx share"))
    for col, column in enumerate(("request_rate", "p95_ms", "error_rate"), start=1):
        figure.add_trace(go.Scatter(x=history["at"], y=history[column], mode="lines+markers",
                                    showlegend=False), row=1, col=col)  # fmt: skip
    figure.update_layout(height=220, margin={"l": 0, "r": 0, "t": 30, "b": 0})
    st.plotly_chart(figure, width="stretch")
    if predictions:
        ordered = sorted(predictions.items(), key=lambda item: item[1])
        bars = go.Figure(go.Bar(x=[v for _, v in ordered], y=[k for k, _ in ordered],
                                orientation="h"))  # fmt: skip
        bars.update_layout(
            height=40 + 22 * len(ordered), margin={"l": 0, "r": 0, "t": 30, "b": 0},
            title="Predictions by class in the window",
        )  # fmt: skip
        st.plotly_chart(bars, width="stretch")
