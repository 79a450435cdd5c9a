"""The challenger against the champion on live traffic: the Training page's panel, Home's card."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app import state
from app.components.status import Level, StatusCard
from core.shadow.canary import MAX_CANARY, CanarySetting
from core.shadow.compare import Interval, Latency, LiveComparison

WINDOWS = {"last hour": 1.0, "last 24 hours": 24.0, "last 7 days": 168.0}


def window_picker() -> float:
    """The window to compare over, in hours (24 h by default)."""
    label = st.segmented_control(
        "Window", list(WINDOWS), default="last 24 hours", key=state.LIVE_WINDOW
    )
    return WINDOWS[label or "last 24 hours"]


def render_comparison(found: LiveComparison) -> None:
    """Agreement, feedback accuracy with intervals, latency, per-class agreement, disagreements."""
    if not found.pairs:
        st.info(
            "No request has both answers yet: the API scores a share of live requests with the "
            "challenger in shadow (RAKUTEN_SHADOW_SHARE). Send traffic (Monitoring page's "
            "simulator, or real clients) and come back.",
            icon=":material/visibility:",
        )
        return
    champions = ", ".join(f"v{v}" for v in found.champion_versions)
    st.caption(
        f"v{found.challenger_version} against the champion ({champions}) on {found.pairs:,} "
        "live requests"
        + (" (the most recent 200,000)" if found.truncated else "")
        + "; accuracy only where people marked the true category."
    )
    cells = st.columns(5)
    cells[0].metric("Agreement", f"{found.agreement:.1%}", help="Same category from both")
    cells[1].metric("Labelled requests", f"{found.labelled:,}")
    cells[2].metric(
        "Champion accuracy (live)",
        _percent(found.accuracy(challenger=False)),
        help=_interval(found.interval(challenger=False)),
    )
    cells[3].metric(
        "Challenger accuracy (live)",
        _percent(found.accuracy(challenger=True)),
        delta=_points(found.difference),
        help=_interval(found.interval(challenger=True)),
    )
    cells[4].metric(
        "Latency p50 (champion / challenger)",
        f"{_ms(found.champion_latency)} / {_ms(found.challenger_latency)}",
        help="Champion: time in the API for the request. Challenger: its own scoring, off the "
        "request path. p95: "
        f"{_ms(found.champion_latency, p95=True)} / {_ms(found.challenger_latency, p95=True)}",
    )
    st.markdown(f"**Evidence:** {found.evidence()}.")
    chart, table = st.columns([2, 3])
    chart.plotly_chart(agreement_chart(found), width="stretch")
    with table:
        st.markdown("**Where they disagree most** (both confident, different answers)")
        st.dataframe(
            found.disagreements.drop(columns=["request_id"]),
            hide_index=True,
            column_config={
                "at": st.column_config.DatetimeColumn("At", format="YYYY-MM-DD HH:mm"),
                "designation": st.column_config.TextColumn("Product", width="large"),
                "champion_probability": st.column_config.NumberColumn("p", format="%.2f"),
                "challenger_probability": st.column_config.NumberColumn("p ", format="%.2f"),
                "true_category": "Marked true",
            },
        )


def agreement_chart(found: LiveComparison) -> go.Figure:
    """Agreement per class (by the champion's answer), the least agreed on top."""
    frame = found.per_class
    figure = go.Figure(
        go.Bar(
            x=frame["agreement"],
            y=[f"{row.category} ({row.code})" for row in frame.itertuples()],
            orientation="h",
            text=[
                f"{a:.0%} of {n:,}"
                for a, n in zip(frame["agreement"], frame["requests"], strict=True)
            ],
            textposition="auto",
        )
    )
    figure.update_layout(
        height=80 + 22 * len(frame),
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title="Agreement per class",
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        yaxis={"autorange": "reversed"},
    )
    return figure


def canary_control(
    setting: CanarySetting, version: int, disabled_reason: str | None = None
) -> float | None:
    """The share of live requests challenger ``version`` answers; returns a new share once
    confirmed (a canary sends real answers from a version that is not the champion)."""
    if setting.share:
        who = f" (set by {setting.actor} at {setting.at:%Y-%m-%d %H:%M} UTC)" if setting.at else ""
        st.markdown(
            f"**Canary:** v{version} answers **{setting.share:.0%}** of live requests{who}; "
            "each answer names the version that produced it. A promotion or rollback ends it."
        )
    else:
        st.markdown("**Canary:** off — the champion answers every request.")
    percent = st.slider(
        "Share of live requests the challenger answers",
        0,
        int(MAX_CANARY * 100),
        round(setting.share * 100),
        step=5,
        format="%d%%",
        key=state.CANARY_PERCENT,
        disabled=disabled_reason is not None,
        help=disabled_reason,
    )
    share = percent / 100
    with st.popover(
        "Apply canary share…",
        icon=":material/alt_route:",
        disabled=disabled_reason is not None or share == setting.share,
        help=disabled_reason,
    ):
        st.write(
            f"Send {percent}% of live requests to v{version}? Their answers come from it."
            if share
            else "Turn the canary off? The champion answers every request again."
        )
        if st.button("Yes, apply", type="primary", key=state.CANARY_CONFIRM):
            return share
    return None


def shadow_card(found: LiveComparison | None, error: str = "") -> StatusCard:
    """Home's card while a challenger runs in shadow (``found`` None: no challenger)."""
    if error:
        return StatusCard("Challenger in shadow", "—", error, "error")
    if found is None or found.challenger_version is None:
        return StatusCard("Challenger in shadow", "none", "train one without promoting it", "idle")
    if not found.pairs:
        return StatusCard(
            "Challenger in shadow",
            f"v{found.challenger_version}",
            "no live request scored by both yet (last 24 h)",
            "idle",
        )
    level: Level = "ok" if found.difference is None or found.difference >= 0 else "warn"
    return StatusCard(
        "Challenger in shadow",
        f"v{found.challenger_version} · {found.agreement:.0%} agreement",
        f"{found.pairs:,} requests (24 h) · {found.labelled:,} labelled · see Training",
        level,
    )


def _percent(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "—"


def _points(value: float | None) -> str | None:
    return f"{100 * value:+.1f} pts vs champion" if value is not None else None


def _interval(found: Interval | None) -> str:
    if found is None:
        return "No labelled request yet."
    return f"95 % confidence interval: {found.low:.1%} to {found.high:.1%} (Wilson)."


def _ms(latency: Latency, *, p95: bool = False) -> str:
    value = latency.p95 if p95 else latency.p50
    return f"{value:.1f} ms" if value is not None else "—"
