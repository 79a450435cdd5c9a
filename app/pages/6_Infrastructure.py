"""Infrastructure: every service's health, start/stop/restart, logs, and the way to each tool."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import current_actor, get_managers, require_identity
from app.components.infrastructure import (
    backend_caption,
    log_lines,
    offer_local_mode,
    render_links,
    render_log,
    render_services_table,
    service_controls,
    service_picker,
)
from app.components.permissions import refusals
from app.managers.docker_services import EngineUnreachable
from app.managers.errors import ManagerError
from app.managers.services import ServiceManager
from core.access.permissions import Action

st.set_page_config(
    page_title="Infrastructure · Control Room", page_icon=":material/dns:", layout="wide"
)
require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
managers = get_managers()
settings = managers.settings
actor = current_actor()
st.title("Infrastructure")

manager: ServiceManager = managers.services
fallback = managers.local_services  # stack mode: local processes, when the Docker engine is down
if fallback is not None and st.session_state.get(state.INFRA_LOCAL):
    manager = fallback
backend_caption(manager.backend, settings.compose_project, settings.var_dir)
if flash := st.session_state.pop(state.INFRA_FLASH, None):
    st.success(flash)
try:  # the control room's own database, whichever backend runs the rest
    managers.dataset.status()
except ManagerError as exc:
    st.error(str(exc), icon=":material/database:")
else:
    st.caption(f"Database: **{managers.dataset.backend}**, reachable.")

try:
    services = manager.services()
except EngineUnreachable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    if fallback is not None and offer_local_mode():
        st.session_state[state.INFRA_LOCAL] = True
        st.rerun()
    st.stop()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

if manager is fallback and st.button("Back to the Docker stack", icon=":material/deployed_code:"):
    st.session_state[state.INFRA_LOCAL] = False
    st.rerun()

render_services_table(services)
if st.button("Check again", icon=":material/refresh:"):
    st.rerun()

st.subheader("Tools")
render_links(manager.links(services))

if not services:
    st.info("No service found: start the stack with `docker compose up -d`, or run `make run`.")
    st.stop()

st.subheader("Control a service")
chosen = service_picker(services)
refused = refusals(actor, Action.START_SERVICE, Action.STOP_SERVICE, Action.RESTART_SERVICE)
action = service_controls(chosen, refused)
if action is not None:
    verb = {"start": "Starting", "stop": "Stopping", "restart": "Restarting"}[action.action]
    try:
        with st.spinner(f"{verb} {action.name}…"):
            after = getattr(manager, action.action)(action.name, actor)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        outcome = "healthy" if after.healthy else f"{after.status}, {after.reason or 'not healthy'}"
        st.session_state[state.INFRA_FLASH] = f"{action.name} {action.action}: now {outcome}."
        st.rerun()

st.subheader(f"Logs of {chosen.name}")
lines = log_lines()
try:
    render_log(chosen.name, manager.logs(chosen.name, lines))
except ManagerError as exc:
    st.error(str(exc))
