"""The monitor flow: drift of recent traffic against the champion's training data, and a retrain
when it passes the threshold (the promotion gate then decides whether the new model serves).

Every run that checks drift leaves a row in ``drift_runs`` (with its Evidently report under
``<var_dir>/drift/``) and the decision taken; a run that cannot check (no champion, too little
traffic) says why in its result and its logs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from sqlalchemy import Engine

from core.access import Action, Actor, audited
from core.access.audit_store import SqlAuditLog
from core.adapters.model_store import model_store
from core.db.engine import ensure_schema, make_engine
from core.drift_store import MIN_ROWS, DriftRun, record_decision, save_drift_run
from core.flows.names import MONITOR_DEPLOYMENT
from core.flows.train import train_flow
from core.monitoring import check_drift, current_window, reference_products
from core.registry import champion as champion_of
from core.settings import Settings, get_settings


@flow(name="monitor")
def monitor_flow(
    window_hours: float = 24.0,
    retrain: bool = True,
    threshold: float | None = None,
    actor: dict[str, Any] | None = None,
) -> dict:
    """Check drift on the last ``window_hours`` of predictions; retrain above the threshold.

    Args:
        window_hours: How far back the inference log is read.
        retrain: Start the train flow when drift is found (off: only report).
        threshold: Drift share above which it is drift (default ``RAKUTEN_DRIFT_SHARE_THRESHOLD``).
        actor: Who started the run (:meth:`Actor.as_params`), recorded with the drift run and
            passed on to training; without it, the monitor's schedule.

    Returns:
        ``verdict`` (``drift``, ``no drift``, or why nothing was checked), the drift share,
        the drifted columns, the decision and, after a retrain, the train flow's summary.
    """
    settings = get_settings()
    threshold = settings.drift_share_threshold if threshold is None else threshold
    who = Actor.from_params(actor) if actor else Actor.schedule(MONITOR_DEPLOYMENT)
    engine = make_engine(settings.database_url)
    params = {"window_hours": window_hours, "retrain": retrain, "threshold": threshold}
    try:
        ensure_schema(engine)
        with audited(SqlAuditLog(engine), who, Action.MONITOR, target="drift", params=params):
            return _monitor(settings, engine, who, window_hours, retrain, threshold)
    finally:
        engine.dispose()


def _monitor(
    settings: Settings,
    engine: Engine,
    who: Actor,
    window_hours: float,
    retrain: bool,
    threshold: float,
) -> dict:
    logger = get_run_logger()
    store = model_store(
        settings.mlflow_tracking_uri, "flow", settings.mlflow_username, settings.mlflow_password
    )
    champion = champion_of(store.versions())
    if champion is None:
        logger.info("No champion yet: nothing to compare traffic with.")
        return {"verdict": "no champion", "decision": "nothing to check"}
    end = datetime.now(UTC)
    start = end - timedelta(hours=window_hours)
    with engine.connect() as conn:
        window = current_window(conn, since=start, until=end)
    # Checked before the champion's run, training sample and model are read: none is needed.
    if len(window) < MIN_ROWS:
        message = f"{len(window)} prediction(s) in the last {window_hours:g} h: send traffic"
        logger.info("Not enough traffic to judge drift: %s (at least %s).", message, MIN_ROWS)
        return {"verdict": "not enough traffic", "decision": message}
    params = store.run(champion.run_id).params if champion.run_id else {}
    data_rows = params.get("data_rows")
    with engine.connect() as conn:
        reference = reference_products(conn, int(data_rows) if data_rows else None)
    pipeline = store.load_pipeline(store.version_ref(champion.version))
    summary, html = check_drift(pipeline, reference, window, threshold)
    run = DriftRun(summary, start, end, champion.version, who)
    run_id = save_drift_run(engine, settings.var_dir / "drift", run, html)
    logger.info(
        "Drift share %.0f %% (threshold %.0f %%): %s; drifted: %s",
        100 * summary.drift_share,
        100 * threshold,
        summary.verdict,
        ", ".join(summary.drifted_columns) or "none",
    )
    trained = None
    if not summary.drifted:
        decision = "no drift: nothing to do"
    elif not retrain:
        decision = "drift: retraining is off for this run"
    else:
        logger.info("Drift above the threshold: retraining.")
        trained = train_flow(actor=who.as_params())
        promoted = "promoted to champion" if trained["promoted"] else "not promoted"
        decision = f"drift: retrained as v{trained['version']}, {promoted} ({trained['gate']})"
    record_decision(engine, run_id, decision)
    logger.info("Decision: %s", decision)
    return {
        "verdict": summary.verdict,
        "drift_share": summary.drift_share,
        "drifted_columns": list(summary.drifted_columns),
        "decision": decision,
        "drift_run_id": run_id,
        "trained": trained,
    }
