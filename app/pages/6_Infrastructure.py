"""Infrastructure: every service's health, start/stop/restart, logs, and the way to each tool."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import get_managers
from app.components.infrastructure import render_links, render_services_table, service_controls
from app.links import links_from
from app.managers.docker_services import EngineUnreachable
from app.managers.errors import ManagerError
from app.managers.services import ServiceManager, local_service_manager
from app.records import ServiceInfo

st.set_page_config(page_title="Infrastructure · Control Room", page_icon=":material/dns:",
                   layout="wide")  # fmt: skip
managers = get_managers()
settings = managers.settings
st.title("Infrastructure")

manager: ServiceManager = managers.services
if manager.backend == "docker" and st.session_state.get(state.INFRA_LOCAL):
    manager = local_service_manager(settings)
if manager.backend == "docker":
    st.caption(
        f"Stack mode: the containers of compose project **{settings.compose_project}**, "
        "through the Docker engine."
    )
else:
    st.caption(
        "Local mode: the processes `make run` supervises (PID files in "
        f"`{settings.var_dir / 'run'}`, logs in `{settings.var_dir / 'logs'}`)."
    )
if flash := st.session_state.pop(state.INFRA_FLASH, None):
    st.success(flash)
try:  # the control room's own database, whichever backend runs the rest
    managers.database.status()
except ManagerError as exc:
    st.error(str(exc), icon=":material/database:")
else:
    st.caption(f"Database: **{managers.database.backend}**, reachable.")

try:
    services = manager.services()
except EngineUnreachable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    st.write("The control room can run without Docker: local mode supervises the same services "
             "as local processes.")  # fmt: skip
    if st.button("Use local mode's services", icon=":material/computer:", type="primary"):
        st.session_state[state.INFRA_LOCAL] = True
        st.rerun()
    st.stop()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

if manager.backend == "local" and managers.services.backend == "docker":
    if st.button("Back to the Docker stack", icon=":material/deployed_code:"):
        st.session_state[state.INFRA_LOCAL] = False
        st.rerun()

render_services_table(services)
if st.button("Check again", icon=":material/refresh:"):
    st.rerun()

st.subheader("Tools")
render_links(links_from(services, manager.backend, managers))

if not services:
    st.info("No service found: start the stack with `docker compose up -d`, or run `make run`.")
    st.stop()

st.subheader("Control a service")
by_name: dict[str, ServiceInfo] = {s.name: s for s in services}
name = st.selectbox(
    "Service", list(by_name), key=state.INFRA_SERVICE,
    format_func=lambda n: f"{n} — {by_name[n].title}",
)  # fmt: skip
chosen = by_name[name]
action = service_controls(chosen)
if action is not None:
    verb = {"start": "Starting", "stop": "Stopping", "restart": "Restarting"}[action.action]
    try:
        with st.spinner(f"{verb} {action.name}…"):
            after = getattr(manager, action.action)(action.name)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        outcome = "healthy" if after.healthy else f"{after.status}, {after.reason or 'not healthy'}"
        st.session_state[state.INFRA_FLASH] = f"{action.name} {action.action}: now {outcome}."
        st.rerun()

st.subheader(f"Logs of {name}")
lines = st.select_slider(
    "Last lines", options=[50, 100, 200, 500, 1000], value=100, key=state.INFRA_LOG_LINES
)
try:
    text = manager.logs(name, lines)
except ManagerError as exc:
    st.error(str(exc))
else:
    st.code(text or "(the log is empty)", language="log", height=400)
    st.download_button(
        "Download these lines", text, file_name=f"{name}.log", icon=":material/download:"
    )
