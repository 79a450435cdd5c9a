"""Who may do what: every state-changing action and the least role allowed to take it, in one map.

The map is the single source of the rules: the guards of the use cases and managers
(:func:`core.access.audit.audited`) consult it, and the pages ask :func:`why_not` to show a
control disabled with its reason instead of hiding it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from core.access.actor import Actor, Role

F = TypeVar("F", bound=Callable[..., object])

# viewer < operator < admin: each role may do everything the one before it may.
_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class Action(StrEnum):
    """A state-changing action, as it appears in the audit log."""

    IMPORT_DATA = "import_data"  # into an empty database
    REPLACE_DATA = "replace_data"
    INITIALIZE = "initialize"
    LOAD_NEXT_BATCH = "load_next_batch"
    RESET = "reset"
    TRAIN = "train"
    PROMOTE = "promote"  # through the gate
    FORCE_PROMOTE = "force_promote"
    ROLLBACK = "rollback"
    MONITOR = "monitor"  # the drift check, monitor-and-retrain
    SIMULATE_TRAFFIC = "simulate_traffic"
    FEEDBACK = "feedback"
    RESTART_SERVICE = "restart_service"
    START_SERVICE = "start_service"
    STOP_SERVICE = "stop_service"
    PAUSE_SCHEDULE = "pause_schedule"  # pause or resume
    MANAGE_ROLES = "manage_roles"
    RUN_FLOW = "run_flow"  # a deployment that is none of the above (not the control room's)
    BACKUP = "backup"  # the whole database to a file: everyone's data
    RESTORE = "restore"  # a file over the whole database
    SET_CANARY = "set_canary"  # a share of live requests answered by the challenger


PERMISSIONS: Mapping[Action, Role] = MappingProxyType(
    {
        Action.IMPORT_DATA: Role.OPERATOR,
        Action.REPLACE_DATA: Role.ADMIN,
        Action.INITIALIZE: Role.OPERATOR,
        Action.LOAD_NEXT_BATCH: Role.OPERATOR,
        Action.RESET: Role.ADMIN,
        Action.TRAIN: Role.OPERATOR,
        Action.PROMOTE: Role.OPERATOR,
        Action.FORCE_PROMOTE: Role.ADMIN,
        Action.ROLLBACK: Role.ADMIN,
        Action.MONITOR: Role.OPERATOR,
        Action.SIMULATE_TRAFFIC: Role.OPERATOR,
        Action.FEEDBACK: Role.OPERATOR,
        Action.RESTART_SERVICE: Role.OPERATOR,
        Action.START_SERVICE: Role.ADMIN,
        Action.STOP_SERVICE: Role.ADMIN,
        Action.PAUSE_SCHEDULE: Role.ADMIN,
        Action.MANAGE_ROLES: Role.ADMIN,
        Action.RUN_FLOW: Role.ADMIN,
        Action.BACKUP: Role.ADMIN,
        Action.RESTORE: Role.ADMIN,
        Action.SET_CANARY: Role.ADMIN,
    }
)


class PermissionDenied(Exception):
    """The actor's role is short of what the action needs; nothing was changed."""

    def __init__(self, actor: Actor, action: Action) -> None:
        self.actor = actor
        self.action = action
        super().__init__(why_not(actor.role, action) or f"{action} is allowed")


def least_role(action: Action) -> Role:
    """The least role allowed to take ``action``.

    Args:
        action: The action.

    Returns:
        Its role in :data:`PERMISSIONS`.
    """
    return PERMISSIONS[action]


def allowed(role: Role, action: Action) -> bool:
    """Whether ``role`` may take ``action``.

    Args:
        role: The acting person's role.
        action: What they want to do.

    Returns:
        True when the role is at least the action's least role.
    """
    return _RANK[role] >= _RANK[PERMISSIONS[action]]


def why_not(role: Role, action: Action) -> str | None:
    """Why ``role`` may not take ``action`` (the text a disabled control shows), or None.

    Args:
        role: The acting person's role.
        action: What they want to do.

    Returns:
        ``"needs the operator role"`` and the like, or None when allowed.
    """
    if allowed(role, action):
        return None
    return f"needs the {PERMISSIONS[action].value} role"


def require(actor: Actor, action: Action) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may take ``action`` (no audit row).

    For the few places below an audited caller that have no audit writer of their own.

    Args:
        actor: Who acts.
        action: What they want to do.

    Raises:
        PermissionDenied: The role is short.
    """
    if not allowed(actor.role, action):
        raise PermissionDenied(actor, action)


def checks(*actions: Action) -> Callable[[F], F]:
    """Declare which actions a state-changing function is guarded by (its role check).

    The declaration is what lets a test prove that every state change has a check, and then
    call each one with a role that is short to see it refused.

    Args:
        *actions: The actions the function may take (e.g. import and replace).

    Returns:
        A decorator that records ``actions`` on the function and returns it unchanged.
    """

    def mark(fn: F) -> F:
        setattr(fn, "__checks__", actions)  # noqa: B010 - an attribute mypy does not know of
        return fn

    return mark


def checked_actions(fn: Callable[..., object]) -> tuple[Action, ...]:
    """The actions ``fn`` declared with :func:`checks` (empty when it declared none)."""
    return tuple(getattr(fn, "__checks__", ()))
