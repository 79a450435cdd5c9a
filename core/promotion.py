"""Promotions and rollbacks: moving the champion alias, judged by the gate, and their log.

MLflow keeps the aliases (``models:/rakuten-product-classifier@champion``) but no history of
them, so every promotion and rollback is also written to ``promotion_log``; rollback walks that
log back to the champion before the current one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, text, update

from core.access import Action, Actor, audited, checks
from core.access.audit_store import SqlAuditLog
from core.adapters.errors import AdapterError
from core.adapters.model_store import ModelStore
from core.db.tables import promotion_log
from core.registry import CHALLENGER, CHAMPION, GateVerdict, champion, gate
from core.tracking import MODEL_NAME

log = logging.getLogger(__name__)


class PromotionRefused(RuntimeError):
    """A promotion or rollback that the gate or the history does not allow."""


@dataclass(frozen=True, slots=True)
class Promotion:
    """A change of champion that happened."""

    action: str
    from_version: int | None
    to_version: int
    reason: str


@checks(Action.PROMOTE, Action.FORCE_PROMOTE)
def promote(
    engine: Engine,
    store: ModelStore,
    version: int,
    *,
    margin: float,
    actor: Actor,
    force_reason: str | None = None,
) -> Promotion:
    """Make ``version`` the champion if the gate allows it, or when forced with a reason.

    Args:
        engine: The control room's database (the promotion log).
        store: The registry whose champion alias moves.
        version: The candidate.
        margin: The gate's tolerance below the champion's score.
        actor: Who promotes; its label goes to the log.
        force_reason: Promote even if the gate refuses, for this written reason.

    Returns:
        The promotion that happened.

    Raises:
        PromotionRefused: Unknown version, the gate failed and no reason was given, or a forced
            promotion without a written reason.
        PermissionDenied: ``actor`` may not promote (or force); the alias is not moved.
    """
    action = promote_action(force_reason)
    params = {"version": version, "force_reason": force_reason}
    with audited(SqlAuditLog(engine), actor, action, target=f"v{version}", params=params):
        return _promote(engine, store, version, margin, actor, force_reason)


def promote_action(force_reason: str | None) -> Action:
    """A forced promotion needs more than one through the gate."""
    return Action.PROMOTE if force_reason is None else Action.FORCE_PROMOTE


def _promote(
    engine: Engine,
    store: ModelStore,
    version: int,
    margin: float,
    actor: Actor,
    force_reason: str | None,
) -> Promotion:
    if force_reason is not None and not force_reason.strip():
        raise PromotionRefused("A forced promotion needs a written reason.")
    with engine.begin() as conn:
        # Read, judge and switch under one lock: two promotions (a click and the train flow's
        # auto-promotion) cannot both pass the gate against the same old champion.
        _lock_promotions(conn)
        versions = store.versions()
        candidate = next((v for v in versions if v.version == version), None)
        if candidate is None:
            raise PromotionRefused(f"Version {version} of {MODEL_NAME} does not exist.")
        current = champion(versions)
        verdict = gate(candidate, current, margin)
        if current is not None and current.version == version:
            raise PromotionRefused(verdict.reason)
        if force_reason is not None:
            action, reason = "force", f"forced: {force_reason.strip()} (gate: {verdict.reason})"
        elif not verdict.passed:
            raise PromotionRefused(f"Promotion gate refused: {verdict.reason}.")
        else:
            action, reason = "promote", f"gate passed: {verdict.reason}"
        from_version = current.version if current else None
        _switch(conn, store, action, from_version, version, actor, reason, verdict)
    if CHALLENGER in candidate.aliases:
        try:
            store.delete_alias(CHALLENGER)
        except AdapterError as exc:  # the promotion happened: a stale challenger is harmless
            log.warning("v%s is champion; its challenger alias stays (%s)", version, exc)
    return Promotion(action, from_version, version, reason)


@checks(Action.ROLLBACK)
def rollback(engine: Engine, store: ModelStore, *, actor: Actor) -> Promotion:
    """Give the champion alias back to the champion before the current one.

    Args:
        engine: The control room's database (the promotion log).
        store: The registry whose champion alias moves.
        actor: Who rolls back; its label goes to the log.

    Returns:
        The rollback that happened.

    Raises:
        PromotionRefused: The log holds no earlier champion.
        PermissionDenied: ``actor`` may not roll back; the alias is not moved.
    """
    with audited(SqlAuditLog(engine), actor, Action.ROLLBACK, target="champion"):
        return _rollback(engine, store, actor)


def _rollback(engine: Engine, store: ModelStore, actor: Actor) -> Promotion:
    with engine.begin() as conn:
        _lock_promotions(conn)
        history = champion_history(promotion_log_frame(conn))
        if len(history) < 2:
            raise PromotionRefused("There is no earlier champion to roll back to.")
        current, previous = history[-1], history[-2]
        versions = {v.version: v for v in store.versions()}
        actual = champion(list(versions.values()))
        if actual is None or actual.version != current:
            # The alias was moved outside the control room (MLflow UI): the log is not the truth.
            raise PromotionRefused(
                f"MLflow's champion is {f'v{actual.version}' if actual else 'unset'}, but the "
                f"promotion log ends at v{current}: promote the version you want explicitly."
            )
        if previous not in versions:
            raise PromotionRefused(f"The earlier champion v{previous} is no longer registered.")
        verdict = GateVerdict(
            True, versions[previous].weighted_f1, versions[current].weighted_f1, "rollback"
        )
        reason = f"rolled back from v{current} to v{previous}"
        _switch(conn, store, "rollback", current, previous, actor, reason, verdict)
    return Promotion("rollback", current, previous, reason)


def champion_history(log: pd.DataFrame) -> list[int]:
    """The stack of champions the log describes: promotions push, rollbacks pop."""
    stack: list[int] = []
    for row in log.sort_values("id").itertuples():
        if row.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != row.to_version:
                stack.append(int(row.to_version))
        elif not stack or stack[-1] != row.to_version:
            stack.append(int(row.to_version))
    return stack


def promotion_log_frame(conn: Connection) -> pd.DataFrame:
    """Every promotion and rollback, newest first."""
    columns = [c.name for c in promotion_log.columns]
    rows = conn.execute(select(promotion_log).order_by(promotion_log.c.id.desc())).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _lock_promotions(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE promotion_log IN EXCLUSIVE MODE"))
    else:
        # A write as the transaction's first statement takes SQLite's write lock (and waits).
        conn.execute(update(promotion_log).where(promotion_log.c.id == -1).values(reason=""))


def _switch(
    conn: Connection,
    store: ModelStore,
    action: str,
    from_version: int | None,
    to_version: int,
    actor: Actor,
    reason: str,
    verdict: GateVerdict,
) -> None:
    # The log row is written first and the alias moved last, inside the caller's transaction:
    # if MLflow refuses the alias, the row is rolled back with it.
    conn.execute(
        insert(promotion_log).values(
            at=datetime.now(UTC),
            action=action,
            from_version=from_version,
            to_version=to_version,
            triggered_by=actor.label,  # at most 100 characters, the column's width
            reason=reason,
            candidate_f1=verdict.candidate_f1,
            champion_f1=verdict.champion_f1,
        )
    )
    store.set_alias(CHAMPION, to_version)
