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
# Never in the audit parameters: whatever names a credential (auth covers auth_string, oauth…).
_SECRET = re.compile(
    r"token|passw|pwd|secret|credential|api_?key|private_?key|auth|cookie|session|bearer|jwt",
    re.I,
)
# … nor in any text kept (a value, a target, an error's message): a URL's password, an
# Authorization header's credentials, "password=…"-style assignments.
_URL_PASSWORD = re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@", re.I)
_HEADER_CREDENTIALS = re.compile(  # a credential, not a word ("Basic authentication failed")
    r"(?P<keep>\b(?:bearer|basic|token)\s+)(?!(?-i:[A-Za-z][a-z]*\b))[\w.~+/=-]{6,}", re.I
)
_ASSIGNED_SECRET = re.compile(
    r"(?P<keep>\b[\w-]*(?:token|passw|pwd|secret|api_?key|auth_string)[\w-]*\s*[=:]\s*)"
    r"(?!\*\*\*)[^\s&,;'\"]+",
    re.I,
)
HIDDEN = "***"
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
    target = scrub(target)

    def write(outcome: Outcome, message: str = "") -> None:
        if outer:
            _write(audit, AuditEntry(actor, action, outcome, target, clean, scrub(message)))

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
        A copy with secret-looking keys removed (also inside nested mappings and lists), secrets
        inside text hidden (:func:`scrub`), values that JSON cannot hold turned to text, and long
        text cut.
    """
    return {str(k): _safe_value(v) for k, v in params.items() if not _SECRET.search(str(k))}


def scrub(text: str) -> str:
    """``text`` with the credentials it may carry hidden: a URL's password, the credentials of
    an ``Authorization``-style header, the value of ``password=…``, ``token: …`` and the like.

    Args:
        text: Any text kept in the audit trail (a parameter, a target, an error's message).

    Returns:
        The text, each credential replaced by ``***``.
    """
    text = _URL_PASSWORD.sub(rf"\g<keep>{HIDDEN}@", text)
    text = _HEADER_CREDENTIALS.sub(rf"\g<keep>{HIDDEN}", text)
    return _ASSIGNED_SECRET.sub(rf"\g<keep>{HIDDEN}", text)


def _safe_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return safe_params(value)
    if isinstance(value, list | tuple):
        return [_safe_value(v) for v in value]
    if isinstance(value, int | float | bool | type(None)):
        return value
    return scrub(str(value))[:200]


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
