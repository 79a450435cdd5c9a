"""Changing the champion and having it served: the Training page's buttons and the train flow.

A promotion or rollback moves the registry's alias (through the gate and the promotion log, see
:mod:`core.promotion`), ends a canary (:mod:`core.shadow.canary`), then asks the predictor API to
reload so the new champion answers the next request instead of the one after the API's next
alias check. Asking never fails the change: the API follows the alias on its own anyway; the
answer is reported as a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from core import promotion
from core.access import Action, Actor, audited, checks
from core.access.audit_store import SqlAuditLog
from core.adapters.errors import AdapterError
from core.adapters.model_store import ModelStore
from core.adapters.predictor import Predictor
from core.promotion import Promotion
from core.registry import champion
from core.shadow.canary import end_canary
from core.shadow.compare import compare
from core.shadow.gate import live_verdict

LIVE_WINDOW = timedelta(days=7)  # the live gate's window


@dataclass(frozen=True, slots=True)
class ChampionChange:
    """A change of champion and what the API said when asked to serve it."""

    promotion: Promotion
    serving: str  # one sentence: "The API now serves v3.", or why it does not yet


@checks(Action.PROMOTE, Action.FORCE_PROMOTE)
def promote_and_serve(
    store: ModelStore,
    predictor: Predictor,
    engine: Engine,
    version: int,
    actor: Actor,
    *,
    margin: float,
    force_reason: str | None = None,
    wait_for_api: bool = True,
    live_evidence: bool = False,
) -> ChampionChange:
    """Make ``version`` champion through the gate (or forced with a reason), then serve it.

    Args:
        store: The registry.
        predictor: The API to ask for a reload.
        engine: The control room's database (the promotion log).
        version: The candidate.
        actor: Who promotes (the log's ``triggered_by``).
        margin: The gate's tolerance below the champion's score.
        force_reason: Promote even if the gate refuses, for this written reason.
        wait_for_api: Wait until the API has loaded the new champion (the Training page's
            buttons); the train flow only asks, so that its run ends without a model load.
        live_evidence: Also require the live comparison's support (``RAKUTEN_PROMOTION_NEEDS_
            LIVE_EVIDENCE``; :func:`core.shadow.compare.live_verdict`), unless forced.

    Returns:
        The promotion and what the API serves now.

    Raises:
        PromotionRefused: The gate refused and no reason was given, or the version is unknown.
        PermissionDenied: ``actor`` may not promote (or force).
    """
    action = promotion.promote_action(force_reason)
    params = {"version": version, "force_reason": force_reason}
    with audited(SqlAuditLog(engine), actor, action, target=f"v{version}", params=params):
        # The first champion has nothing to be compared with live: the holdout gate decides.
        if live_evidence and force_reason is None and champion(store.versions()) is not None:
            passed, reason = live_gate(engine, version)
            if not passed:
                raise promotion.PromotionRefused(f"Promotion gate refused: {reason}.")
        done = promotion.promote(
            engine, store, version, margin=margin, actor=actor, force_reason=force_reason
        )
        end_canary(engine, f"promotion of v{version} by {actor.label}")
        return ChampionChange(done, _ask_to_serve(predictor, done.to_version, wait_for_api))


@checks(Action.ROLLBACK)
def rollback_and_serve(
    store: ModelStore, predictor: Predictor, engine: Engine, actor: Actor
) -> ChampionChange:
    """Give the champion alias back to the previous champion, then serve it.

    Args:
        store: The registry.
        predictor: The API to ask for a reload.
        engine: The control room's database (the promotion log).
        actor: Who rolls back (the log's ``triggered_by``).

    Returns:
        The rollback and what the API serves now.

    Raises:
        PromotionRefused: No earlier champion, or the alias was moved outside the control room.
        PermissionDenied: ``actor`` may not roll back.
    """
    with audited(SqlAuditLog(engine), actor, Action.ROLLBACK, target="champion"):
        done = promotion.rollback(engine, store, actor=actor)
        end_canary(engine, f"rollback to v{done.to_version} by {actor.label}")
        return ChampionChange(done, _ask_to_serve(predictor, done.to_version))


def live_gate(engine: Engine, version: int) -> tuple[bool, str]:
    """The live gate of ``version`` over the last :data:`LIVE_WINDOW` (7 days)."""
    with engine.connect() as conn:
        found = compare(conn, since=datetime.now(UTC) - LIVE_WINDOW, challenger_version=version)
    return live_verdict(found)


def _ask_to_serve(predictor: Predictor, version: int, wait: bool = True) -> str:
    try:
        served = predictor.reload(wait=wait)
    except AdapterError as exc:
        return f"The API did not reload ({exc}); it checks the alias on its own."
    if served.version == version:
        return f"The API now serves v{version}."
    if not wait:
        was = f"v{served.version}" if served.version else "no model"
        return f"The API is loading v{version} (it answers with {was} until then)."
    return f"The API still serves v{served.version}: {served.last_error or 'it will switch soon'}."
