"""Following a flow run from a page: triggered there, shown live, the page refreshed at the end."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.components.training import render_flow_run
from app.managers.errors import ManagerError
from app.managers.flows import PrefectManager


def trigger(prefect: PrefectManager, deployment: str, parameters: dict[str, Any], key: str) -> None:
    """Start a run of ``deployment`` and remember it under the session key ``key``."""
    try:
        started = prefect.trigger(deployment, parameters)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        st.session_state[key] = started.id


def follow_run(prefect: PrefectManager, key: str) -> None:
    """Show the run remembered under ``key``: state and latest logs, refreshed every 2 s by
    itself while it runs (the page stays usable); when it ends the whole page reruns, so what
    the run changed shows."""
    run_id = st.session_state.get(key)
    if not run_id:
        return
    try:
        following = not prefect.flow_run(run_id).finished
    except ManagerError:
        following = False

    def show() -> None:
        try:
            run, logs = prefect.flow_run(run_id), prefect.logs(run_id)
        except ManagerError as exc:
            st.error(str(exc))
            return
        render_flow_run(run, logs)
        if run.finished and following:
            st.rerun()

    with st.container(border=True):
        st.fragment(show, run_every=2 if following else None)()
