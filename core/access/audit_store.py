"""The audit trail in the control room's database: its writer (:class:`SqlAuditLog`), its reads."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, insert, or_, select

from core.access.audit import MESSAGE_MAX, AuditEntry, AuditLog, params_json
from core.db.tables import audit_log

AUDIT_COLUMNS = tuple(c.name for c in audit_log.columns)


class SqlAuditLog(AuditLog):
    """Writes each entry in a transaction of its own, so a refused or failed action (whose own
    transaction rolled back) is recorded all the same."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, entry: AuditEntry) -> None:
        """Insert ``entry`` into ``audit_log``."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=entry.at,
                    subject=entry.actor.subject[:200],
                    email=(entry.actor.email or None) and entry.actor.email[:200],
                    role=entry.actor.role.value,
                    via=entry.actor.via[:20],
                    action=entry.action.value,
                    target=entry.target[:200],
                    parameters=params_json(entry.parameters),
                    outcome=entry.outcome,
                    message=entry.message[:MESSAGE_MAX],
                )
            )


def audit_entries(
    conn: Connection,
    *,
    person: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1_000,
) -> pd.DataFrame:
    """The audit trail, newest first, filtered.

    Args:
        conn: A connection to the control room's database.
        person: Part of the subject or email (case-insensitive).
        action: An :class:`~core.access.permissions.Action` value.
        outcome: ``done``, ``refused`` or ``failed``.
        since: Entries at or after this time.
        until: Entries before this time.
        limit: At most this many rows.

    Returns:
        One row per entry, with the columns of ``audit_log``.
    """
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if person:
        pattern = f"%{person.lower()}%"
        query = query.where(
            or_(audit_log.c.subject.ilike(pattern), audit_log.c.email.ilike(pattern))
        )
    if action:
        query = query.where(audit_log.c.action == action)
    if outcome:
        query = query.where(audit_log.c.outcome == outcome)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    frame = pd.DataFrame(conn.execute(query).all(), columns=list(AUDIT_COLUMNS))
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame
