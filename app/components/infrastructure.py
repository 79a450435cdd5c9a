"""The Infrastructure page's pieces: the service table, the controls, the log viewer, the links."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import streamlit as st

from app import state
from app.components.permissions import NO_REFUSALS
from app.components.status import StatusCard
from app.records import ServiceInfo
from core.access.permissions import Action as Permission

Action = Literal["start", "stop", "restart"]
# Where each tool lives, by the service that runs it.
TOOLS = {
    "mlflow": ("MLflow", ":material/science:"),
    "prefect": ("Prefect", ":material/account_tree:"),
    "grafana": ("Grafana", ":material/dashboard:"),
    "prometheus": ("Prometheus", ":material/query_stats:"),
    "api": ("API docs", ":material/api:"),
}


@dataclass(frozen=True, slots=True)
class ServiceAction:
    """What the person confirmed: ``action`` on the service ``name``."""

    name: str
    action: Action


def format_uptime(seconds: float | None) -> str:
    """``3 d 4 h``, ``2 h 05 min``, ``4 min 12 s``, or ``—`` when not running."""
    if seconds is None:
        return "—"
    s = int(seconds)
    days, hours, minutes = s // 86_400, s % 86_400 // 3600, s % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {s % 60:02d} s" if minutes else f"{s} s"


def services_frame(services: list[ServiceInfo]) -> pd.DataFrame:
    """One row per service, as the table shows it."""
    return pd.DataFrame(
        {
            "service": [s.name for s in services],
            "what": [s.title for s in services],
            "backend": [s.backend for s in services],
            "status": [s.status for s in services],
            "health": ["healthy" if s.healthy else s.reason for s in services],
            "check_ms": [s.check_ms for s in services],
            "url": [s.url for s in services],
            "uptime": [format_uptime(s.uptime_s) for s in services],
            "restarts": [s.restart_note or "—" for s in services],
        }
    )


def render_services_table(services: list[ServiceInfo]) -> None:
    """The service table, with the health summary above it."""
    healthy = sum(s.healthy for s in services)
    down = [s.name for s in services if not s.healthy]
    cols = st.columns(3)
    cols[0].metric("Services", len(services))
    cols[1].metric("Healthy", f"{healthy} / {len(services)}")
    cols[2].metric("Down", ", ".join(down) if down else "none")
    frame = services_frame(services)
    styled = frame.style.map(
        lambda v: (
            "color: #1a7f37" if v in {"running", "completed", "healthy"} else "color: #cf222e"
        ),
        subset=["status", "health"],
    )
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        column_order=[c for c in frame if c != "what"],
        column_config={
            "service": st.column_config.TextColumn("Service", width="small"),
            "backend": st.column_config.TextColumn("Backend", width="small"),
            "status": st.column_config.TextColumn("Status", width="small"),
            "health": st.column_config.TextColumn("Health", width="medium"),
            "check_ms": st.column_config.NumberColumn(
                "Health check", format="%.1f ms", help="Latency of the last health check"
            ),
            "url": st.column_config.LinkColumn("URL", width="medium"),
            "uptime": st.column_config.TextColumn("Uptime", width="small"),
            "restarts": st.column_config.TextColumn(
                "Restarts", width="medium", help="Automatic restarts after a crash (local mode)"
            ),
        },
    )


def backend_caption(backend: str, compose_project: str, var_dir: Path) -> None:
    """Which services the page shows: the compose project's containers or local processes."""
    if backend == "docker":
        st.caption(
            f"Stack mode: the containers of compose project **{compose_project}**, "
            "through the Docker engine."
        )
    else:
        st.caption(
            "Local mode: the processes `make run` supervises (PID files in "
            f"`{var_dir / 'run'}`, logs in `{var_dir / 'logs'}`)."
        )


def offer_local_mode() -> bool:
    """When the Docker engine is down: the way to local mode's services; True when chosen."""
    st.write(
        "The control room can run without Docker: local mode supervises the same services "
        "as local processes."
    )
    return st.button("Use local mode's services", icon=":material/computer:", type="primary")


def service_picker(services: list[ServiceInfo]) -> ServiceInfo:
    """The service the controls and the log viewer are on."""
    by_name = {s.name: s for s in services}
    name = st.selectbox(
        "Service",
        list(by_name),
        key=state.INFRA_SERVICE,
        format_func=lambda n: f"{n} — {by_name[n].title}",
    )
    return by_name[name]


def service_controls(
    service: ServiceInfo, refused: Mapping[Permission, str] = NO_REFUSALS
) -> ServiceAction | None:
    """Start, Stop and Restart, each behind a confirmation, for one service; those whose action
    is ``refused`` are disabled with the reason."""
    name = service.name
    buttons = st.container(horizontal=True)
    with buttons.popover(
        f"Start {name}…",
        icon=":material/play_arrow:",
        disabled=service.status == "running" or Permission.START_SERVICE in refused,
        help=refused.get(Permission.START_SERVICE),
    ):
        st.write(f"Start **{service.title}**? The page waits until it is healthy (up to a minute).")
        if st.button(f"Yes, start {name}", type="primary", key=f"{state.INFRA_CONFIRM}_start"):
            return ServiceAction(name, "start")
    locked = not service.controllable
    with buttons.popover(
        f"Stop {name}…",
        icon=":material/stop:",
        disabled=locked or service.status != "running" or Permission.STOP_SERVICE in refused,
        help=refused.get(Permission.STOP_SERVICE),
    ):
        st.write(f"Stop **{service.title}**? {_consequence(name)}")
        if st.button(f"Yes, stop {name}", type="primary", key=f"{state.INFRA_CONFIRM}_stop"):
            return ServiceAction(name, "stop")
    with buttons.popover(
        f"Restart {name}…",
        icon=":material/restart_alt:",
        disabled=locked or Permission.RESTART_SERVICE in refused,
        help=refused.get(Permission.RESTART_SERVICE),
    ):
        st.write(f"Restart **{service.title}**? It is unavailable until it is healthy again.")
        if st.button(f"Yes, restart {name}", type="primary", key=f"{state.INFRA_CONFIRM}_restart"):
            return ServiceAction(name, "restart")
    if locked:
        st.caption("The control room runs this page: stop it from a shell, not from itself.")
    return None


def _consequence(name: str) -> str:
    return {
        "api": "Predictions stop until it is started again.",
        "mlflow": "Training, the registry and the API's champion checks fail until it is back.",
        "prefect": "Flows cannot be started and schedules do not run until it is back.",
        "worker": "Flow runs stay scheduled until it is back.",
        "postgres": "Every service that stores data fails until it is back.",
    }.get(name, "")


def log_lines() -> int:
    """How many of the last log lines to show."""
    return st.select_slider(
        "Last lines", options=[50, 100, 200, 500, 1000], value=100, key=state.INFRA_LOG_LINES
    )


def render_log(name: str, text: str) -> None:
    """A service's last log lines, with a download of them."""
    st.code(text or "(the log is empty)", language="log", height=400)
    st.download_button(
        "Download these lines", text, file_name=f"{name}.log", icon=":material/download:"
    )


def render_links(urls: dict[str, str]) -> None:
    """A button per tool that has a URL; says which do not run here."""
    links = st.container(horizontal=True)
    missing = []
    for name, (label, icon) in TOOLS.items():
        if urls.get(name):
            links.link_button(label, urls[name], icon=icon)
        else:
            missing.append(label)
    if missing:
        st.caption(
            f"Not running here: {', '.join(missing)}. Grafana and Prometheus run in the compose "
            "stack (`docker compose up -d`, see the README); a stopped service has no link."
        )


def tool_buttons(urls: dict[str, str], labels: dict[str, str]) -> None:
    """A row of buttons opening the tools ``labels`` names, for those that have a URL."""
    row = st.container(horizontal=True)
    for name, label in labels.items():
        if name in urls:
            row.link_button(label, urls[name], icon=":material/open_in_new:")


def services_card(services: list[ServiceInfo] | None, error: str = "") -> StatusCard:
    """Home's card: how many services are healthy, and which are not (``services`` is None when
    the backend cannot be read, and ``error`` says why)."""
    if services is None:
        # A card has room for what failed; the how-to after it belongs on the Infrastructure page.
        return StatusCard("Services", "—", error.split(" (", 1)[0] or "unknown", "error")
    if not services:
        return StatusCard("Services", "none", "no service found", "warn")
    down = [s.name for s in services if not s.healthy]
    value = f"{len(services) - len(down)}/{len(services)} healthy"
    if down:
        return StatusCard("Services", value, "down: " + ", ".join(down), "error")
    return StatusCard("Services", value, f"{services[0].backend} backend", "ok")
