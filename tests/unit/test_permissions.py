"""Who may do what: the permission map, and a role check on every state change."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from core.access import PERMISSIONS, Action, Actor, Role, allowed, why_not
from core.access.audit import AuditEntry, AuditLog, audited, params_json, safe_params
from core.access.permissions import PermissionDenied, checked_actions
from core.access.roles import role_from_claim
from core.adapters.model_store import ModelStore
from core.drift_store import DriftRun
from tests.unit.test_actor_required import STATE_CHANGING, public_callables

VIEWER = Actor("ann", "oidc", Role.VIEWER, email="ann@example.org")
OPERATOR = Actor("olga", "oidc", Role.OPERATOR)
ADMIN = Actor("adam", "oidc", Role.ADMIN)

# The issue's list, action by action: the least role allowed.
EXPECTED = {
    Action.IMPORT_DATA: Role.OPERATOR,
    Action.INITIALIZE: Role.OPERATOR,
    Action.LOAD_NEXT_BATCH: Role.OPERATOR,
    Action.TRAIN: Role.OPERATOR,
    Action.PROMOTE: Role.OPERATOR,
    Action.MONITOR: Role.OPERATOR,
    Action.SIMULATE_TRAFFIC: Role.OPERATOR,
    Action.FEEDBACK: Role.OPERATOR,
    Action.RESTART_SERVICE: Role.OPERATOR,
    Action.REPLACE_DATA: Role.ADMIN,
    Action.RESET: Role.ADMIN,
    Action.FORCE_PROMOTE: Role.ADMIN,
    Action.ROLLBACK: Role.ADMIN,
    Action.START_SERVICE: Role.ADMIN,
    Action.STOP_SERVICE: Role.ADMIN,
    Action.PAUSE_SCHEDULE: Role.ADMIN,
    Action.MANAGE_ROLES: Role.ADMIN,
    Action.RUN_FLOW: Role.ADMIN,
    Action.BACKUP: Role.ADMIN,
    Action.RESTORE: Role.ADMIN,
    Action.SET_CANARY: Role.ADMIN,
}
# Not functions that act, so nothing to guard: say why.
UNGUARDED: dict[object, str] = {
    DriftRun: "a record; save_drift_run writes it under the monitor flow's guard",
    ModelStore.log_run: "a port; its adapter calls log_training_run, which checks",
}


class MemoryAuditLog(AuditLog):
    """Records entries in a list."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class BrokenAuditLog(AuditLog):
    def record(self, entry: AuditEntry) -> None:
        raise OSError("disk full")


def test_the_map_is_the_issues_list() -> None:
    assert dict(PERMISSIONS) == EXPECTED


@pytest.mark.parametrize("action", list(Action))
def test_each_role_may_do_what_the_one_before_may(action: Action) -> None:
    grants = [allowed(role, action) for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)]
    assert grants == sorted(grants)  # False… then True…
    assert allowed(Role.ADMIN, action)
    assert not allowed(Role.VIEWER, action)  # every listed action changes something


def test_why_not_is_the_reason_a_disabled_control_shows() -> None:
    assert why_not(Role.VIEWER, Action.TRAIN) == "needs the operator role"
    assert why_not(Role.OPERATOR, Action.RESET) == "needs the admin role"
    assert why_not(Role.OPERATOR, Action.TRAIN) is None


@pytest.mark.parametrize("change", STATE_CHANGING, ids=lambda c: c.__qualname__)
def test_every_state_change_declares_its_role_check(change: Callable[..., Any]) -> None:
    if change in UNGUARDED:
        return
    actions = checked_actions(change)
    assert actions, f"{change.__qualname__} has no role check (@checks)"
    assert all(action in PERMISSIONS for action in actions)


def test_every_method_that_takes_an_actor_declares_its_check() -> None:
    # A new manager method or use case that takes an actor must say which action it guards.
    missing = [
        f"{owner}.{name}"
        for owner, name, fn in public_callables()
        if "actor" in inspect.signature(fn).parameters and not checked_actions(fn)
    ]
    assert not missing, f"no @checks(...) role check: {missing}"


def test_a_short_role_is_refused_before_the_block_and_written() -> None:
    audit, ran = MemoryAuditLog(), []
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        with audited(audit, OPERATOR, Action.RESET, target="dataset"):
            ran.append(True)
    assert ran == []
    [entry] = audit.entries
    assert (entry.outcome, entry.action, entry.actor) == ("refused", Action.RESET, OPERATOR)
    assert entry.message == "needs the admin role"


def test_done_and_failed_are_written_with_the_message() -> None:
    audit = MemoryAuditLog()
    with audited(audit, OPERATOR, Action.TRAIN, params={"c": 1.0}):
        pass
    with pytest.raises(ValueError), audited(audit, ADMIN, Action.RESET):
        raise ValueError("no dataset")
    assert [(e.outcome, e.message) for e in audit.entries] == [
        ("done", ""),
        ("failed", "no dataset"),
    ]
    assert audit.entries[0].parameters == {"c": 1.0}


def test_nested_guards_of_one_action_write_one_row_and_others_their_own() -> None:
    audit = MemoryAuditLog()
    with audited(audit, OPERATOR, Action.TRAIN):
        with audited(audit, OPERATOR, Action.TRAIN):  # manager → use case → domain
            pass
        with audited(audit, OPERATOR, Action.PROMOTE):  # the flow's auto-promotion
            pass
    assert [e.action for e in audit.entries] == [Action.PROMOTE, Action.TRAIN]
    with pytest.raises(PermissionDenied), audited(audit, OPERATOR, Action.TRAIN):
        with audited(audit, OPERATOR, Action.FORCE_PROMOTE):
            pass
    assert [(e.action, e.outcome) for e in audit.entries[2:]] == [
        (Action.FORCE_PROMOTE, "refused"),
        (Action.TRAIN, "failed"),
    ]


def test_a_lost_audit_row_does_not_change_what_happened(caplog: pytest.LogCaptureFixture) -> None:
    with audited(BrokenAuditLog(), ADMIN, Action.RESET):
        pass
    with pytest.raises(PermissionDenied), audited(BrokenAuditLog(), VIEWER, Action.RESET):
        pass
    assert "audit row lost" in caplog.text


def test_no_secret_reaches_the_audit_parameters() -> None:
    params = {
        "version": 3,
        "api_token": "s3cr3t",
        "config": {"c": 1.0, "password": "hunter2"},
        "Authorization": "Bearer x",
        "note": "x" * 5_000,
    }
    clean = safe_params(params)
    assert clean == {"version": 3, "config": {"c": 1.0}, "note": "x" * 200}
    stored = params_json({f"k{i}": "y" * 200 for i in range(20)})
    assert len(stored) <= 1_000 and "s3cr3t" not in params_json(params)


@pytest.mark.parametrize(
    ("claim", "role"),
    [
        (["staff", "operator"], Role.OPERATOR),
        (["operator", "admin"], Role.ADMIN),
        ("viewer", Role.VIEWER),
        (["staff"], None),
        (None, None),
    ],
)
def test_the_role_from_a_groups_claim(claim: Any, role: Role | None) -> None:
    assert role_from_claim(claim) == role


def test_group_names_are_configurable() -> None:
    names = {Role.ADMIN: "mlops-admins", Role.OPERATOR: "mlops-operators"}
    assert role_from_claim(["mlops-operators"], names) == Role.OPERATOR
    assert role_from_claim(["admin"], names) is None
