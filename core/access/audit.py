"""The audit trail: one row per state-changing action, done, refused or failed, and who took it.

:func:`audited` is the guard every state change runs under: it checks the actor's role against
:data:`core.access.permissions.PERMISSIONS`, writes ``refused`` and raises
:class:`~core.access.permissions.PermissionDenied` when the role is short, and otherwise writes
``done`` after the block, or ``failed`` with the error's message. Guards nest: when a manager
calls a use case that calls a domain function, each guarding the same action, only the outermost
writes the row; a different action inside (the train flow's auto-promotion) gets a row of its own.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from core.access.actor import Actor
from core.access.permissions import Action, PermissionDenied, allowed

log = logging.getLogger(__name__)
Outcome = Literal["done", "refused", "failed"]
PARAMS_MAX = 1_000  # characters of JSON kept per row
MESSAGE_MAX = 500
# Never in the audit parameters: whatever names a credential.
_SECRET = re.compile(r"token|password|passwd|secret|credential|api_?key|auth|cookie", re.I)
_active: ContextVar[tuple[Action, ...]] = ContextVar("audited_actions", default=())


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action."""

    actor: Actor
    action: Action
    outcome: Outcome
    target: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class AuditLog(ABC):
    """Port: where audit entries are written (the control room's database in production)."""

    @abstractmethod
    def record(self, entry: AuditEntry) -> None:
        """Write ``entry``; raise if it cannot be written."""


class LoggingAuditLog(AuditLog):
    """Entries to the process log only: for managers built without a database."""

    def record(self, entry: AuditEntry) -> None:
        """Log ``entry`` at INFO."""
        log.info(
            "audit: %s %s %s %s (%s)",
            entry.actor.label,
            entry.action.value,
            entry.target,
            entry.outcome,
            entry.message,
        )


@contextmanager
def audited(
    audit: AuditLog,
    actor: Actor,
    action: Action,
    *,
    target: str = "",
    params: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Run the block as ``actor`` taking ``action``, checked and written to the audit log.

    Args:
        audit: Where the row goes (unless an outer guard already audits the same action).
        actor: Who acts.
        action: What they do; its least role is checked first.
        target: What it acts on (a version, a service, a deployment).
        params: The action's parameters; secrets are dropped and the JSON truncated.

    Yields:
        Nothing; the block is the action.

    Raises:
        PermissionDenied: The role is short (written ``refused``, the block never runs).
    """
    outer = action not in _active.get()
    clean = safe_params(params or {})

    def write(outcome: Outcome, message: str = "") -> None:
        if outer:
            _write(audit, AuditEntry(actor, action, outcome, target, clean, message))

    if not allowed(actor.role, action):
        denied = PermissionDenied(actor, action)
        write("refused", str(denied))
        raise denied
    token = _active.set((*_active.get(), action))
    try:
        yield
    except Exception as exc:
        write("failed", str(exc) or type(exc).__name__)
        raise
    finally:
        _active.reset(token)
    write("done")


def safe_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without credentials, as JSON-ready values, small enough to keep.

    Args:
        params: The action's parameters.

    Returns:
        A copy with secret-looking keys removed (also inside nested mappings), values that JSON
        cannot hold turned to text, and long text cut.
    """
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if _SECRET.search(str(key)):
            continue
        if isinstance(value, Mapping):
            value = safe_params(value)
        elif isinstance(value, str):
            value = value[:200]
        elif not isinstance(value, int | float | bool | type(None) | list | tuple):
            value = str(value)[:200]
        clean[str(key)] = value
    return clean


def params_json(params: Mapping[str, Any]) -> str:
    """The parameters as stored: JSON of :func:`safe_params`, at most :data:`PARAMS_MAX` long."""
    text = json.dumps(safe_params(params), default=str, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= PARAMS_MAX else text[: PARAMS_MAX - 1] + "…"


def _write(audit: AuditLog, entry: AuditEntry) -> None:
    # The audit write never hides what happened: an action that was done stays done, a refusal
    # stays a refusal; a lost row is reported loudly in the process log instead.
    try:
        audit.record(entry)
    except Exception:
        who, what = entry.actor.label, entry.action.value
        log.exception("audit row lost: %s %s %s %s", who, what, entry.target, entry.outcome)
