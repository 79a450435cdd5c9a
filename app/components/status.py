"""The status strip: a row of cards, each a value with a coloured state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import streamlit as st

from app.records import ApiHealth, FlowRunInfo
from core.data.queries import DatasetStatus
from core.drift_store import DriftCheck
from core.registry import VersionInfo

Level = Literal["ok", "warn", "error", "idle"]
_BADGE: dict[Level, str] = {
    "ok": ":green[:material/check_circle:]",
    "warn": ":orange[:material/warning:]",
    "error": ":red[:material/error:]",
    "idle": ":gray[:material/radio_button_unchecked:]",
}


@dataclass(frozen=True, slots=True)
class StatusCard:
    """One card: what it is about, its headline value, a detail line and a state."""

    title: str
    value: str
    detail: str
    level: Level = "ok"


def render_status_strip(cards: list[StatusCard]) -> None:
    """Show cards side by side."""
    for column, card in zip(st.columns(len(cards)), cards, strict=True):
        with column, st.container(border=True):
            st.caption(f"{_BADGE[card.level]} {card.title}")
            st.markdown(f"**{card.value}**")
            st.caption(card.detail)


def database_cards(backend: str, status: DatasetStatus | None) -> list[StatusCard]:
    """Cards for the database and the data lifecycle (``status`` is None when unreachable)."""
    if status is None:
        return [
            StatusCard("Database", backend, "unreachable", "error"),
            StatusCard("Data loaded", "—", "database unreachable", "idle"),
            StatusCard("Last load", "—", "database unreachable", "idle"),
        ]
    if status.source is None:
        data = StatusCard("Data loaded", "no dataset", "import one on the Dataset page", "warn")
    else:
        data = StatusCard(
            "Data loaded",
            f"{100 * status.share:.1f} %",
            f"{status.loaded_rows:,} of {status.pool_rows:,} products",
            "ok" if status.loaded_rows else "warn",
        )
    last = status.last_load_at
    return [
        StatusCard("Database", backend, "reachable", "ok"),
        data,
        StatusCard(
            "Last load",
            format_age(last) if last else "never",
            last.strftime("%Y-%m-%d %H:%M UTC") if last else "nothing loaded yet",
            "ok" if last else "idle",
        ),
    ]


def champion_card(champion: VersionInfo | None, reachable: bool) -> StatusCard:
    """The champion's version, holdout F1 and the share of data it was trained on."""
    if not reachable:
        return StatusCard("Champion", "—", "MLflow unreachable", "error")
    if champion is None:
        return StatusCard("Champion", "none yet", "train a model on the Training page", "warn")
    f1 = f"weighted F1 {champion.weighted_f1:.4f}" if champion.weighted_f1 is not None else ""
    data = f" · {champion.data_loaded_pct:.0f} % of data" if champion.data_loaded_pct else ""
    return StatusCard("Champion", f"v{champion.version}", f1 + data, "ok")


def served_card(health: ApiHealth | None, champion: VersionInfo | None) -> StatusCard:
    """The version the API actually serves, against the champion (a mismatch is flagged).

    ``health`` is None when the API is unreachable.
    """
    if health is None:
        return StatusCard("Served model", "—", "API unreachable: `make run` starts it", "error")
    if not health.model_loaded or health.version is None:
        return StatusCard("Served model", "none", health.last_error or "no model loaded", "warn")
    served = f"v{health.version}"
    if champion is None:
        return StatusCard("Served model", served, "no champion in the registry", "warn")
    if champion.version != health.version:
        return StatusCard(
            "Served model",
            f"{served} ≠ champion v{champion.version}",
            f"mismatch: the API checks every {health.poll_seconds:g} s",
            "warn",
        )
    loaded = f"loaded {format_age(health.loaded_at)}" if health.loaded_at else ""
    return StatusCard("Served model", f"{served} = champion", loaded, "ok")


def drift_card(latest: DriftCheck | None) -> StatusCard:
    """The last drift check's verdict and share (``latest`` is None before any check)."""
    if latest is None:
        return StatusCard("Last drift check", "none yet", "run one on the Monitoring page", "idle")
    return StatusCard(
        "Last drift check",
        f"{latest.verdict} · {latest.drift_share:.0%}",
        f"{format_age(latest.at)} · threshold {latest.threshold:.0%}",
        "warn" if latest.drifted else "ok",
    )


def flow_runs_card(runs: list[FlowRunInfo] | None, error: str = "") -> StatusCard:
    """The latest flow run and its state (``runs`` is None when Prefect is unreachable: why)."""
    if runs is None:
        return StatusCard("Last flow run", "—", error or "Prefect unreachable", "error")
    if not runs:
        return StatusCard("Last flow run", "none yet", "flows run from the Training page", "idle")
    last = runs[0]
    level: Level = "error" if last.failed else "ok" if last.finished else "warn"
    at = last.started or last.created
    when = format_age(at) if at else ""
    return StatusCard("Last flow run", f"{last.flow} · {last.state_name}", when, level)


def format_age(moment: datetime, now: datetime | None = None) -> str:
    """``"just now"``, ``"5 min ago"``, ``"3 h ago"``, ``"2 days ago"``."""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86_400)
    return f"{days} day{'s' if days > 1 else ''} ago"
