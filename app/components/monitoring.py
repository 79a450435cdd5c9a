"""The Monitoring page's pieces: the verdict, drift over time, the report, the monitor's buttons
and deployments, the traffic simulator (service health: :mod:`app.components.service_health`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from html import escape

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import streamlit.components.v1 as components

from app.components.status import format_age
from app.records import DeploymentInfo
from core.drift_store import MIN_ROWS, DriftCheck
from core.simulate import SCENARIOS, Scenario

STATE_DOTS = {
    "COMPLETED": "🟢",
    "FAILED": "🔴",
    "CRASHED": "🔴",
    "CANCELLED": "⚫",
    "RUNNING": "🔵",
    "PENDING": "🟡",
    "SCHEDULED": "⚪",
}
REPORT_HEIGHT = 1000


@dataclass(frozen=True, slots=True)
class TrafficRequest:
    """What the simulator should send."""

    count: int
    scenario: Scenario
    strength: float


def drift_overview(checks: Sequence[DriftCheck], traffic: int) -> None:
    """The latest verdict and drift over time; without a check, what to do first."""
    if not checks and traffic < MIN_ROWS:
        st.info(
            f"No inference traffic to judge yet ({traffic} prediction(s); the check needs at least "
            f"{MIN_ROWS}). Send traffic first: the simulator below, or the Predictions page.",
            icon=":material/info:",
        )
    elif not checks:
        st.info(f"{traffic:,} predictions logged and no drift check yet: run one below.")
    else:
        render_verdict(checks[0])
        st.plotly_chart(drift_share_chart(checks), width="stretch")


def run_now_buttons(disabled_reason: str | None = None) -> bool | None:
    """The two buttons that start the monitor; whether it should retrain, once one is pressed.

    ``disabled_reason`` (the role the monitor needs) disables both and says why.
    """
    check, retrain, _ = st.columns([1, 1, 2])
    off = disabled_reason is not None
    # Both buttons are drawn on every run, so that pressing one never hides the other.
    checked = check.button(
        "Run drift check now", icon=":material/query_stats:", disabled=off, help=disabled_reason
    )
    retrained = retrain.button(
        "Run monitor-and-retrain now",
        icon=":material/autorenew:",
        disabled=off,
        help=disabled_reason,
    )
    if checked or retrained:
        return retrained
    return None


def render_verdict(latest: DriftCheck) -> None:
    """The latest drift check: verdict, share against the threshold, drifted columns, decision."""
    verdict, share, columns, when = st.columns([1, 1, 2, 1])
    verdict.metric("Verdict", latest.verdict)
    share.metric(
        "Drift share",
        f"{latest.drift_share:.0%}",
        help="share of compared columns that drifted",
        delta=f"threshold {latest.threshold:.0%}",
        delta_color="off",
    )
    columns.metric("Drifted columns", ", ".join(latest.drifted_columns) or "none")
    when.metric("Checked", format_age(latest.at))
    version = f"v{latest.champion_version}" if latest.champion_version is not None else "—"
    decision = latest.decision or "(decision pending)"
    (st.warning if latest.drifted else st.success)(
        f"**{latest.verdict}** on {latest.current_rows:,} predictions against "
        f"{latest.reference_rows:,} training products of champion {version} — {decision}",
        icon=":material/warning:" if latest.drifted else ":material/check_circle:",
    )


def drift_share_chart(checks: Sequence[DriftCheck]) -> go.Figure:
    """Drift share per check over time, with the threshold; drift checks in red."""
    ordered = pd.DataFrame([asdict(check) for check in checks]).sort_values("at")
    colours = ["#d62728" if v == "drift" else "#2ca02c" for v in ordered["verdict"]]
    figure = go.Figure(
        go.Scatter(
            x=ordered["at"],
            y=ordered["drift_share"],
            mode="lines+markers",
            marker={"color": colours, "size": 10},
            line={"color": "#999"},
            text=ordered["decision"],
            hovertemplate="%{y:.0%}<br>%{text}<extra></extra>",
            name="drift share",
        )
    )
    figure.add_hline(
        y=float(ordered["threshold"].iloc[-1]),
        line_dash="dash",
        line_color="#d62728",
        annotation_text="threshold",
    )
    figure.update_layout(
        height=260,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title="Drift share over time",
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
        showlegend=False,
    )
    return figure


def report_picker(checks: Sequence[DriftCheck]) -> DriftCheck:
    """Choose a check whose report to show (the latest by default)."""
    labels = {
        f"{check.at:%Y-%m-%d %H:%M} UTC · {check.verdict} ({check.drift_share:.0%})": check
        for check in checks
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


def traffic_form(ready: bool, disabled_reason: str | None = None) -> TrafficRequest | None:
    """What the simulator does, and its settings; returns them when Send is pressed (disabled
    with ``disabled_reason``, the role it needs, or while no model is served)."""
    st.caption(
        "Sends predictions to the API, drawn from the holdout, with the drift you choose: so drift "
        "can be shown on demand. They land in the inference log like any other."
    )
    with st.form("simulate"):
        count_col, scenario_col, strength_col = st.columns([1, 2, 1])
        count = count_col.number_input("Predictions", 30, 5_000, 500, step=50)
        scenario = scenario_col.selectbox(
            "Drift to inject", list(SCENARIOS), format_func=lambda s: SCENARIOS[s]
        )
        strength = strength_col.slider(
            "Strength", 0.0, 1.0, 0.7, 0.05, help="share of the products the drift touches"
        )
        sent = st.form_submit_button(
            "Send traffic",
            icon=":material/send:",
            disabled=not ready or disabled_reason is not None,
            help=disabled_reason or (None if ready else "the API is not serving a model"),
        )
    return TrafficRequest(int(count), scenario, float(strength)) if sent else None


def traffic_progress(total: int) -> Callable[[int, int], object]:
    """A progress bar for ``total`` simulated predictions, and the callback that moves it."""
    bar = st.progress(0.0, text=f"0 of {total:,} predictions")

    def moved(done: int, of: int) -> object:
        return bar.progress(done / of, text=f"{done:,} of {of:,} sent")

    return moved


def deployments_table(
    deployments: Sequence[DeploymentInfo], disabled_reason: str | None = None
) -> DeploymentInfo | None:
    """The deployments with schedule, state, next run and latest runs; a pause/resume button
    per scheduled one (disabled with ``disabled_reason``, the role it needs: a paused schedule
    still shows as paused). Returns the deployment whose button was pressed."""
    pressed = None
    for deployment in deployments:
        name, schedule, runs, action = st.columns([2, 2, 3, 1])
        name.markdown(
            f"**{deployment.name}**" + (" · :orange[paused]" if deployment.paused else "")
        )
        if deployment.schedules:
            upcoming = (
                f"next {deployment.next_run:%Y-%m-%d %H:%M} UTC"
                if deployment.next_run and not deployment.paused
                else "no run scheduled"
            )
            schedule.markdown(f"`{', '.join(deployment.schedules)}` (UTC) · {upcoming}")
        else:
            schedule.markdown("on demand")
        states = (
            " ".join(f"{STATE_DOTS.get(r.state_type, '⚪')}" for r in deployment.recent)
            or "no runs yet"
        )
        runs.markdown(f"latest runs: {states}", help="newest first; 🟢 completed, 🔴 failed")
        if deployment.schedules and action.button(
            "Resume" if deployment.paused else "Pause",
            key=f"pause-{deployment.name}",
            icon=":material/play_arrow:" if deployment.paused else ":material/pause:",
            disabled=disabled_reason is not None,
            help=disabled_reason,
        ):
            pressed = deployment
    return pressed


def unread_schedules(schedules: Mapping[str, str], why: str) -> None:
    """The project's scheduled deployments (name → cron) while Prefect cannot be read: what is
    configured, and their pause/resume button disabled with ``why`` rather than hidden."""
    for deployment, cron in schedules.items():
        name, schedule, runs, action = st.columns([2, 2, 3, 1])
        name.markdown(f"**{deployment}**")
        schedule.markdown(f"`{cron}` (UTC) · as configured")
        runs.markdown("state unknown: Prefect cannot be read")
        action.button(
            "Pause / resume",
            key=f"pause-{deployment}",
            icon=":material/pause:",
            disabled=True,
            help=why,
        )
