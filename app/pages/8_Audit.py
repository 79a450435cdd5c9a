"""Audit: every state-changing action — who, what, on what, and how it ended."""

from __future__ import annotations

import streamlit as st

from app.bootstrap import get_managers, require_identity
from app.components.access import audit_filters, render_audit
from app.managers.errors import ManagerError
from core.data.export import to_safe_csv

st.set_page_config(page_title="Audit · Control Room", page_icon=":material/policy:", layout="wide")
require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
access = get_managers().access
st.title("Audit")
st.caption("Every change from the app, the CLI and the flows, including refused attempts.")

query = audit_filters()
try:
    entries = access.audit(
        person=query.person,
        action=query.action,
        outcome=query.outcome,
        since=query.since,
        until=query.until,
    )
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

count = len(entries)
st.caption(f"{count:,} {'entry' if count == 1 else 'entries'} (newest first, at most 1,000).")
render_audit(entries)
st.download_button(
    "Download CSV",
    to_safe_csv(entries),
    file_name="audit_log.csv",
    mime="text/csv",
    icon=":material/download:",
    disabled=entries.empty,
)
