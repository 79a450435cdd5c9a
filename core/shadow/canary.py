"""The canary share: how much live traffic the challenger answers instead of the champion.

Set from the Training page (or ``RAKUTEN_CANARY_SHARE`` before anyone set it there) and kept in
``serving_settings``, where every API worker reads it each time it checks the aliases (and at
once when asked to reload). A promotion or a rollback ends the canary: the share goes back to 0,
so that the next challenger never receives traffic nobody chose to give it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select

from core.access import Action, Actor, audited, checks
from core.db.tables import serving_settings

CANARY_KEY = "canary_share"
MAX_CANARY = 0.5  # past half the traffic, promote instead


@dataclass(frozen=True, slots=True)
class CanarySetting:
    """The share of requests the challenger answers, and who set it when."""

    share: float
    at: datetime | None  # None: from the settings (RAKUTEN_CANARY_SHARE), nobody set it
    actor: str


def canary_share(conn: Connection, default: float = 0.0) -> CanarySetting:
    """The canary share in force: the last one set, else ``default`` (the setting)."""
    row = conn.execute(
        select(serving_settings.c.value, serving_settings.c.at, serving_settings.c.actor).where(
            serving_settings.c.key == CANARY_KEY
        )
    ).first()
    if row is None:
        return CanarySetting(default, None, "")
    try:
        share = float(row.value)
    except ValueError:  # written by hand: fall back to the setting rather than fail serving
        return CanarySetting(default, None, "")
    return CanarySetting(min(max(share, 0.0), MAX_CANARY), row.at, row.actor)


def check_share(share: float) -> float:
    """``share`` if it is a valid canary share.

    Raises:
        ValueError: Outside 0..MAX_CANARY (the message says the range).
    """
    if not 0.0 <= share <= MAX_CANARY:
        raise ValueError(
            f"a canary share is between 0 and {MAX_CANARY:.0%} of requests, not {share:.0%}: "
            "beyond that, promote the challenger"
        )
    return share


@checks(Action.SET_CANARY)
def set_canary_share(engine: Engine, share: float, actor: Actor) -> None:
    """Give the challenger ``share`` of live requests (0: none); the API workers read it.

    Raises:
        ValueError: ``share`` is outside 0..MAX_CANARY.
        PermissionDenied: ``actor`` may not set it.
    """
    # Here, not at the top: the API reads the share and must not import pandas (the audit store).
    from core.access.audit_store import SqlAuditLog

    params = {"share": share}
    with audited(SqlAuditLog(engine), actor, Action.SET_CANARY, target="canary", params=params):
        check_share(share)
        with engine.begin() as conn:
            _write(conn, share, actor.label)


def end_canary(engine: Engine, why: str) -> bool:
    """Set the share back to 0 as part of ``why`` (a promotion or rollback, checked by its own
    action); returns whether a canary was running."""
    with engine.begin() as conn:
        running = canary_share(conn).share > 0
        if running:
            _write(conn, 0.0, why)
    return running


def _write(conn: Connection, share: float, actor: str) -> None:
    """The share's one row, replaced (the last writer wins)."""
    conn.execute(delete(serving_settings).where(serving_settings.c.key == CANARY_KEY))
    row = {"key": CANARY_KEY, "value": repr(share), "at": datetime.now(UTC), "actor": actor[:200]}
    conn.execute(insert(serving_settings), [row])
