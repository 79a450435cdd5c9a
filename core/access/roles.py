"""Where a person's role comes from: an admin's assignment, else the identity provider's claim,
else the default role (``RAKUTEN_DEFAULT_ROLE``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select

from core.access.actor import Actor, Role
from core.access.audit import audited
from core.access.audit_store import SqlAuditLog
from core.access.permissions import Action, checks
from core.db.tables import role_assignments

_REMOVAL = {"change": "remove"}  # an assignment's removal, as its audit row shows it


@checks(Action.MANAGE_ROLES)
def assign_role(engine: Engine, principal: str, role: Role, actor: Actor) -> None:
    """Give ``principal`` (a subject or an email) ``role``, replacing an earlier assignment.

    Args:
        engine: The control room's database.
        principal: The identity provider's subject, or an email (compared case-insensitively).
        role: The role to give.
        actor: Who assigns: must be an admin; the assignment is audited.

    Raises:
        PermissionDenied: ``actor`` is not an admin (nothing is changed).
        ValueError: ``principal`` is empty.
    """
    key = _principal(principal)
    with audited(
        SqlAuditLog(engine), actor, Action.MANAGE_ROLES, target=key, params={"role": role.value}
    ):
        if not key:
            raise ValueError("Name the person: their subject or email.")
        with engine.begin() as conn:
            conn.execute(delete(role_assignments).where(role_assignments.c.principal == key))
            conn.execute(
                insert(role_assignments).values(
                    principal=key,
                    role=role.value,
                    assigned_by=actor.label,
                    assigned_at=datetime.now(UTC),
                )
            )


@checks(Action.MANAGE_ROLES)
def revoke_role(engine: Engine, principal: str, actor: Actor) -> Role:
    """Remove ``principal``'s assignment: their claim's role, or the default, applies again.

    Args:
        engine: The control room's database.
        principal: The subject or email the assignment was made for (any case).
        actor: Who removes it: must be an admin; the removal is audited.

    Returns:
        The role the assignment gave.

    Raises:
        PermissionDenied: ``actor`` is not an admin (nothing is changed).
        ValueError: ``principal`` is empty or has no assignment.
    """
    key = _principal(principal)
    with audited(SqlAuditLog(engine), actor, Action.MANAGE_ROLES, target=key, params=_REMOVAL):
        if not key:
            raise ValueError("Name the person: their subject or email.")
        mine = role_assignments.c.principal == key
        with engine.begin() as conn:
            role = conn.execute(select(role_assignments.c.role).where(mine)).scalar_one_or_none()
            if role is None or conn.execute(delete(role_assignments).where(mine)).rowcount == 0:
                raise ValueError(f"{key} has no assignment to remove.")
        return Role(role)


def assigned_role(conn: Connection, subject: str, email: str | None) -> Role | None:
    """The role an admin assigned to this person (by subject first, then email), if any."""
    keys = [k for k in (_principal(subject), _principal(email or "")) if k]
    rows = dict(
        conn.execute(
            select(role_assignments.c.principal, role_assignments.c.role).where(
                role_assignments.c.principal.in_(keys)
            )
        ).all()
    )
    found = next((rows[k] for k in keys if k in rows), None)
    return Role(found) if found else None


def role_from_claim(
    claim: str | Iterable[str] | None, names: dict[Role, str] | None = None
) -> Role | None:
    """The highest role a claim (e.g. ``groups``) names, or None.

    Args:
        claim: The claim's value: one group or a list of them.
        names: Role → group name (default: the role's own name, ``"admin"``, ``"operator"``…).

    Returns:
        The highest role whose group is in the claim.
    """
    if claim is None:
        return None
    groups = {claim} if isinstance(claim, str) else set(claim)
    names = names or {role: role.value for role in Role}
    for role in (Role.ADMIN, Role.OPERATOR, Role.VIEWER):
        if names.get(role) in groups:
            return role
    return None


def role_for(
    engine: Engine, claims_role: Role | None, subject: str, email: str | None, default: Role
) -> Role:
    """A signed-in person's role: assignment table first, else the claim's role, else ``default``.

    Args:
        engine: The control room's database.
        claims_role: The role the identity provider's claim gives (:func:`role_from_claim`).
        subject: The ID token's ``sub``.
        email: The ID token's ``email``, if any.
        default: The role of a person with neither (``RAKUTEN_DEFAULT_ROLE``).

    Returns:
        The role this person acts with.
    """
    with engine.connect() as conn:
        assigned = assigned_role(conn, subject, email)
    return assigned or claims_role or default


def role_assignments_frame(conn: Connection) -> pd.DataFrame:
    """Every assignment, by principal."""
    rows = conn.execute(select(role_assignments).order_by(role_assignments.c.principal)).all()
    return pd.DataFrame(rows, columns=[c.name for c in role_assignments.columns])


def _principal(value: str) -> str:
    return value.strip().lower()[:200]
