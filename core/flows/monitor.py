"""The monitor flow: drift of recent traffic against the champion's training data, and a retrain
when it passes the threshold (the promotion gate then decides whether the new model serves).

Every run that checks drift leaves a row in ``drift_runs`` (with its Evidently report under
``<var_dir>/drift/``) and the decision taken; a run that cannot check (no champion, too little
traffic) says why in its result and its logs.

A retrain is only worth starting when it would learn something the champion did not: loaded
products it never saw (``RAKUTEN_RETRAIN_LOAD_NEXT_BATCH`` loads the next batch first) or
predictions people labelled since. Refitting the champion's own data gives the champion back, so
then the decision says there is nothing new to learn from instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from sqlalchemy import Engine

from core.access import Action, Actor, audited
from core.access.audit_store import SqlAuditLog
from core.adapters.model_refs import RunRecord
from core.adapters.model_store import model_store
from core.data.feedback import describe_rows
from core.data.queries import training_data
from core.db.engine import ensure_schema, make_engine
from core.drift_store import MIN_ROWS, DriftRun, record_decision, save_drift_run
from core.flows.names import MONITOR_DEPLOYMENT
from core.flows.train import train_flow
from core.monitoring import check_drift, current_window, reference_products
from core.registry import VersionInfo
from core.registry import champion as champion_of
from core.settings import Settings, get_settings
from core.tracking import learnt_from_run
from core.usecases import dataset as lifecycle


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
        the drifted columns, the decision and, after a retrain, the train flow's summary. A
        retrain considered adds ``learnt_from`` (what a new snapshot holds), ``new_data`` (what
        the champion did not learn from; empty: nothing, and no retrain) and ``batch_rows``
        (products the monitor loaded first).
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
    champion_run = store.run(champion.run_id) if champion.run_id else None
    data_rows = champion_run.params.get("data_rows") if champion_run else None
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
    retrained: dict[str, Any] = {"trained": None}
    if not summary.drifted:
        decision = "no drift: nothing to do"
    elif not retrain:
        decision = "drift: retraining is off for this run"
    else:
        retrained = _retrain(settings, engine, who, champion, champion_run)
        decision = retrained.pop("decision")
    record_decision(engine, run_id, decision)
    logger.info("Decision: %s", decision)
    return {
        "verdict": summary.verdict,
        "drift_share": summary.drift_share,
        "drifted_columns": list(summary.drifted_columns),
        "decision": decision,
        "drift_run_id": run_id,
        **retrained,
    }


def _retrain(
    settings: Settings,
    engine: Engine,
    who: Actor,
    champion: VersionInfo,
    champion_run: RunRecord | None,
) -> dict[str, Any]:
    """Train when a new snapshot holds something the champion did not learn from; say why (not).

    Returns:
        ``decision``, ``trained`` (the train flow's summary, or ``None``), ``learnt_from``,
        ``new_data`` and ``batch_rows``.
    """
    logger = get_run_logger()
    batch_rows = _load_next_batch(settings, engine, who) if settings.retrain_load_next_batch else 0
    with engine.connect() as conn:
        now = training_data(conn).learnt_from
    before = learnt_from_run(champion_run.params, champion_run.tags) if champion_run else None
    since = f"v{champion.version}"
    if before is None or not before.loaded_digest:  # nothing to compare with: retrain
        why = f"what {since} learnt from is not recorded"
    elif news := now.news_since(before):
        why = f"{news} since {since}"
    else:
        left = (
            "label predictions on the Predictions page"
            if settings.retrain_load_next_batch  # and it loaded nothing: no batch was left
            else "label predictions on the Predictions page or load the next batch"
        )
        decision = (
            f"drift: nothing new to learn from — {since} was trained on the same "
            f"{now.loaded_rows:,} loaded products and {now.feedback_rows:,} feedback products; "
            f"{left}"
        )
        return {"decision": decision, "trained": None, **_facts(now.describe(), "", batch_rows)}
    logger.info("Drift above the threshold: retraining on %s (%s).", now.describe(), why)
    trained = train_flow(actor=who.as_params())
    promoted = "promoted to champion" if trained["promoted"] else "not promoted"
    fitted_on = describe_rows(trained["data_rows"], trained["feedback_rows"])
    decision = (
        f"drift: retrained on {fitted_on} ({why}) as v{trained['version']}, "
        f"{promoted} ({trained['gate']})"
    )
    return {"decision": decision, "trained": trained, **_facts(now.describe(), why, batch_rows)}


def _facts(learnt_from: str, new_data: str, batch_rows: int) -> dict[str, Any]:
    return {"learnt_from": learnt_from, "new_data": new_data, "batch_rows": batch_rows}


def _load_next_batch(settings: Settings, engine: Engine, who: Actor) -> int:
    """Load the next batch as the Dataset page does; products added (0: none left to load)."""
    logger = get_run_logger()
    try:
        result = lifecycle.load_next_batch(engine, settings.batch_bp, who)
    except lifecycle.LoadRefused as exc:  # all loaded, or never initialized: retrain on what is
        logger.info("Next batch not loaded: %s", exc)
        return 0
    logger.info("Before retraining: %s", result.message)
    return result.rows
