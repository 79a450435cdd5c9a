"""Access: who has which role; admins change it, everyone else sees it."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import get_managers, require_identity
from app.components.access import ROLES_TABLE, removal_form, render_assignments, role_form
from app.components.text import inert
from app.managers.errors import ManagerError
from core.access import Action, why_not

st.set_page_config(
    page_title="Access · Control Room", page_icon=":material/admin_panel_settings:", layout="wide"
)
actor = require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
access = get_managers().access
st.title("Access")
st.caption(
    "A person's role: their assignment here, else their identity provider's group "
    "(RAKUTEN_ROLE_CLAIM), else RAKUTEN_DEFAULT_ROLE. A change applies on their next page load."
)
st.dataframe(ROLES_TABLE, hide_index=True, width="stretch")
if flash := st.session_state.pop(state.ACCESS_FLASH, None):
    st.success(flash)

try:
    assignments = access.assignments()
except ManagerError as exc:
    st.error(str(exc))
    st.stop()

st.subheader("Assignments")
render_assignments(assignments)
refused = why_not(actor.role, Action.MANAGE_ROLES)
if (change := role_form(refused)) is not None:
    try:
        access.assign(change.principal, change.role, actor)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        st.session_state[state.ACCESS_FLASH] = (
            f"{inert(change.principal.strip())} is now {change.role}."
        )
        st.rerun()

own = {p.strip().lower() for p in (actor.subject, actor.email or "") if p}
if (removed := removal_form(list(assignments["principal"]), refused, own)) is not None:
    try:
        was = access.revoke(removed, actor)
    except ManagerError as exc:
        st.error(str(exc))
    else:
        st.session_state[state.ACCESS_FLASH] = (
            f"The assignment of {inert(removed)} ({was}) is removed: their identity provider's "
            "role or the default applies from their next page load."
        )
        st.rerun()
