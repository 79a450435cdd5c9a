"""Following a flow run from a page: shown live, the page refreshed when it ends."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.components.training import render_flow_run
from app.records import RunProgress

LIVE_POLL_S = 0.5  # a run that ends shows within half a second (the worker polls as often)
LOGS_EVERY = 4  # polls: the state is one Prefect call; its logs, a second one, every 2 s


def follow_run(run_id: str, progress: Callable[[str, bool], RunProgress]) -> None:
    """Show a run's state and latest logs, refreshed by itself while it runs (the page stays
    usable); when it ends the whole page reruns one poll later, so what the run changed shows.

    ``progress(run_id, logs)`` reads a run now, its logs too when ``logs`` (the page passes the
    flows manager's). While the run is live the state is read every :data:`LIVE_POLL_S`, the logs
    every :data:`LOGS_EVERY` polls; the rerun at the end reads both.
    """
    first = progress(run_id, True)
    live = first.live
    polls, logs = 0, first.logs  # this page run's own: the fragment's reruns share them
    ended = False

    def show() -> None:
        nonlocal polls, logs, ended
        if ended:  # the end is on screen since the last poll: now refresh what the run changed
            st.rerun()
        polls += 1
        with_logs = polls > 1 and polls % LOGS_EVERY == 0
        now = first if polls == 1 else progress(run_id, with_logs)
        if now.run is None:
            st.error(now.error)
            return
        if with_logs:
            logs = now.logs
        render_flow_run(now.run, list(logs))
        # Shown first, the page rerun at the next poll: rerunning at once would keep the end off
        # the screen for as long as the whole page takes to render again.
        ended = now.run.finished and live

    with st.container(border=True):
        st.fragment(show, run_every=LIVE_POLL_S if live else None)()
