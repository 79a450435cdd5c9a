"""AccessManager: the Access and Audit pages' seam: who has which role, and the audit trail.

The role check and the audit row of an assignment or its removal are the core's own
(:func:`core.access.roles.assign_role`, :func:`~core.access.roles.revoke_role`); a refusal comes
out as :class:`~app.managers.errors.Forbidden`, a database failure as ``ServiceUnavailable``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from app.managers.database import Database
from app.managers.errors import Rejected
from core.access import Action, Actor, Role, checks
from core.access import roles as access_roles
from core.access.audit_store import audit_entries


class AccessManager:
    """Role assignments and the audit trail, in the control room's database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def assignments(self) -> pd.DataFrame:
        """Every role assignment: principal, role, who assigned it and when."""
        return self._db.read(access_roles.role_assignments_frame)

    @checks(Action.MANAGE_ROLES)
    def assign(self, principal: str, role: Role, actor: Actor) -> None:
        """Give ``principal`` (a subject or an email) ``role`` (an admin's action, audited)."""
        try:
            self._db.write(lambda engine: access_roles.assign_role(engine, principal, role, actor))
        except ValueError as exc:  # no principal named
            raise Rejected(str(exc)) from exc

    @checks(Action.MANAGE_ROLES)
    def revoke(self, principal: str, actor: Actor) -> Role:
        """Remove ``principal``'s assignment (an admin's action, audited); returns its role."""
        try:
            return self._db.write(lambda engine: access_roles.revoke_role(engine, principal, actor))
        except ValueError as exc:  # no principal named, or no assignment to remove
            raise Rejected(str(exc)) from exc

    def role_of(
        self, claims_role: Role | None, subject: str, email: str | None, default: Role
    ) -> Role:
        """A signed-in person's role: their assignment, else the claim's role, else ``default``."""
        # role_for opens its own connection; write() is the engine-level call that translates.
        return self._db.write(
            lambda engine: access_roles.role_for(engine, claims_role, subject, email, default)
        )

    def audit(
        self,
        *,
        person: str = "",
        action: str = "",
        outcome: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1_000,
    ) -> pd.DataFrame:
        """The audit trail, newest first; empty filters do not filter."""
        return self._db.read(
            lambda conn: audit_entries(
                conn,
                person=person.strip() or None,
                action=action or None,
                outcome=outcome or None,
                since=since,
                until=until,
                limit=limit,
            )
        )
