"""Who acts and what they may do: the :class:`Actor` every state-changing use case and manager
method requires, the permission map, and the audit trail every change is written to."""

from core.access.actor import Actor, Role
from core.access.audit import AuditEntry, AuditLog, LoggingAuditLog, audited
from core.access.permissions import (
    PERMISSIONS,
    Action,
    PermissionDenied,
    allowed,
    checks,
    require,
    why_not,
)

__all__ = [
    "PERMISSIONS",
    "Action",
    "Actor",
    "AuditEntry",
    "AuditLog",
    "LoggingAuditLog",
    "PermissionDenied",
    "Role",
    "allowed",
    "audited",
    "checks",
    "require",
    "why_not",
]
