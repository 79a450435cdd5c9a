"""Following a flow run from a page: shown live, the page refreshed when it ends."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.components.training import render_flow_run
from app.records import RunProgress


def follow_run(run_id: str, progress: Callable[[str], RunProgress]) -> None:
    """Show a run's state and latest logs, refreshed every 2 s by itself while it runs (the page
    stays usable); when it ends the whole page reruns, so what the run changed shows.

    ``progress`` reads a run now (the page passes the flows manager's).
    """
    live = progress(run_id).live

    def show() -> None:
        now = progress(run_id)
        if now.run is None:
            st.error(now.error)
            return
        render_flow_run(now.run, list(now.logs))
        if now.run.finished and live:
            st.rerun()

    with st.container(border=True):
        st.fragment(show, run_every=2 if live else None)()
