"""The Access and Audit pages' pieces: the role form, the assignments table and the removal of
one, the audit filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from app import state
from app.components.text import inert
from core.access import Action, Role

OUTCOMES = ("done", "refused", "failed")
ROLES_TABLE = pd.DataFrame(
    [
        ("viewer", "every page, live predictions, logs and reports"),
        (
            "operator",
            "also import into an empty database, Initialize, Load next batch, train, "
            "promote through the gate, drift check and retraining, simulated traffic, feedback, "
            "restart a service",
        ),
        (
            "admin",
            "also replace the data, Reset, force a promotion, roll back, start and stop "
            "services, pause and resume schedules, manage roles",
        ),
    ],
    columns=["role", "may"],
)


@dataclass(frozen=True, slots=True)
class RoleChange:
    """An admin's request: give ``principal`` (subject or email) ``role``."""

    principal: str
    role: Role


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """The Audit view's filters; empty fields do not filter (times in UTC)."""

    person: str
    action: str
    outcome: str
    since: datetime | None
    until: datetime | None


def role_form(reason: str | None) -> RoleChange | None:
    """The form that gives a person a role; disabled, with ``reason``, for anyone not allowed."""
    if reason:
        st.caption(f"Changing roles {reason}.")
    with st.form("access_assign", clear_on_submit=True):
        principal = st.text_input(
            "Person (subject or email)", key=state.ACCESS_PRINCIPAL, disabled=bool(reason)
        )
        role = st.selectbox(
            "Role", [r.value for r in Role], key=state.ACCESS_ROLE, disabled=bool(reason)
        )
        submitted = st.form_submit_button(
            "Assign role", icon=":material/how_to_reg:", disabled=bool(reason), help=reason
        )
    return RoleChange(principal, Role(role)) if submitted and not reason else None


def render_assignments(assignments: pd.DataFrame) -> None:
    """Who has which role by assignment (others have their claim's role, or the default)."""
    if assignments.empty:
        st.info("No role assigned yet: people have their identity provider's role or the default.")
        return
    st.dataframe(assignments, hide_index=True, width="stretch")


def removal_form(principals: list[str], reason: str | None, own: set[str]) -> str | None:
    """Remove one assignment, behind a confirmation; disabled, with ``reason``, for anyone not
    allowed. ``own`` holds the acting person's subject and email: removing their own assignment
    says what it does to them."""
    with st.popover(
        "Remove an assignment…",
        icon=":material/person_remove:",
        disabled=bool(reason) or not principals,
        help=reason or (None if principals else "No assignment to remove."),
    ):
        principal = st.selectbox("Assignment to remove", principals, key=state.ACCESS_REMOVE)
        if principal is None:
            return None
        st.write(
            f"Remove the assignment of **{inert(principal)}**? Their identity provider's role, "
            "or the default role, applies from their next page load."
        )
        if principal in own:
            st.warning("This is your own assignment: you may lose the admin role.")
        if st.button("Yes, remove it", type="primary", key=state.ACCESS_REMOVE_CONFIRM):
            return principal
    return None


def audit_filters() -> AuditQuery:
    """Filters by person, action, outcome and date range (whole days, UTC)."""
    person, action, outcome, days = st.columns([2, 2, 1, 2])
    who = person.text_input("Person (subject or email contains)", key=state.AUDIT_PERSON)
    what = action.selectbox(
        "Action",
        ["", *(a.value for a in Action)],
        key=state.AUDIT_ACTION,
        format_func=lambda a: a or "any",
    )
    how = outcome.selectbox(
        "Outcome", ["", *OUTCOMES], key=state.AUDIT_OUTCOME, format_func=lambda o: o or "any"
    )
    chosen = days.date_input("Days (UTC)", value=[], key=state.AUDIT_SINCE)
    picked = [d for d in (chosen if isinstance(chosen, tuple) else (chosen,)) if d is not None]
    since = _start(picked[0]) if picked else None
    until = _start(picked[-1]) + timedelta(days=1) if picked else None
    return AuditQuery(who, what, how, since, until)


def render_audit(entries: pd.DataFrame) -> None:
    """The audit rows, newest first."""
    if entries.empty:
        st.info("No audited action matches.")
        return
    st.dataframe(
        entries.drop(columns=["id"], errors="ignore"),
        hide_index=True,
        width="stretch",
        column_config={"at": st.column_config.DatetimeColumn("when (UTC)")},
    )


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
