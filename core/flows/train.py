"""The train flow: snapshot → fit → evaluate → log → register → promote when the gate passes.

MLflow going away during a run fails the run with a message that says so, what the run left
behind and what to do (the Training page shows it): checked before the fit and before logging, so
a dead server costs no fit and leaves no run; cut off while logging, the run ends FAILED (or, if
MLflow cannot hear it, the next train run marks it so); a version is only created from a fully
logged model, and the champion alias moves last, after the promotion gate read the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from prefect import Task, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from sqlalchemy import Engine

from core.access import Action, Actor, audited
from core.access.audit_store import SqlAuditLog
from core.adapters.errors import AdapterError, Unreachable
from core.adapters.model_store import ModelStore, model_store
from core.adapters.predictor import HttpPredictor
from core.data.queries import TrainingData, training_data
from core.db.engine import ensure_schema, make_engine
from core.evaluate import Evaluation, evaluate
from core.promotion import PromotionRefused
from core.settings import Settings, get_settings
from core.tracking import FLOW_RUN_TAG, LoggedRun
from core.train import FitResult, TrainConfig, TrainingError, fit
from core.usecases.promotion import promote_and_serve

P = ParamSpec("P")
R = TypeVar("R")


# Frames and fitted pipelines are passed in memory; hashing them for a cache key would cost
# more than the tasks themselves.
def _step(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    return task(name=name, cache_policy=NO_CACHE, persist_result=False)


@dataclass(frozen=True)
class TrainSummary:
    """What the train flow returns (and the app shows)."""

    run_id: str
    version: int
    weighted_f1: float
    macro_f1: float
    accuracy: float
    fit_seconds: float
    data_rows: int  # loaded products
    feedback_rows: int  # products labelled on the Predictions page, learnt from too
    promoted: bool
    gate: str
    serving: str  # what the predictor API said after a promotion ("" when nothing moved)


@_step("snapshot")
def snapshot_task(engine: Engine) -> TrainingData:
    with engine.connect() as conn:
        data = training_data(conn)
    if data.products.empty:
        raise TrainingError("No products are loaded: initialize the data on the Dataset page.")
    if data.holdout.empty:
        raise TrainingError("The holdout is empty: import a dataset with more products per class.")
    logger = get_run_logger()
    logger.info(
        "Snapshot: %s (%.1f %% of the pool loaded), %s holdout, digest %s, feedback digest %s",
        data.learnt_from.describe(),
        100 * data.loaded_share,
        f"{len(data.holdout):,}",
        data.digest[:12],
        data.feedback_digest[:12],
    )
    if data.feedback_held_out:
        logger.info(
            "Left out %s labelled product(s): they are holdout products, which judge the model",
            f"{data.feedback_held_out:,}",
        )
    return data


@_step("fit")
def fit_task(config: TrainConfig, data: TrainingData) -> FitResult:
    result = fit(config, data.training_frame)  # the holdout stays out: it judges the fit
    get_run_logger().info("Fitted %s in %.1f s", config.classifier, result.fit_seconds)
    return result


@_step("evaluate")
def evaluate_task(result: FitResult, data: TrainingData) -> Evaluation:
    evaluation = evaluate(result.pipeline, data.holdout)
    get_run_logger().info(
        "Holdout: weighted F1 %.4f, macro F1 %.4f, accuracy %.4f",
        evaluation.weighted_f1,
        evaluation.macro_f1,
        evaluation.accuracy,
    )
    return evaluation


@_step("log to MLflow")
def log_task(
    store: ModelStore,
    config: TrainConfig,
    result: FitResult,
    evaluation: Evaluation,
    data: TrainingData,
    run_name: str,
    actor: Actor,
) -> LoggedRun:
    logger = get_run_logger()
    try:
        store.check_reachable()  # gone during the fit: say so now, with no run created
        for run_id in store.close_abandoned_runs(flow_run_over):
            logger.info("Marked MLflow run %s FAILED: an earlier run lost MLflow", run_id)
        logged = store.log_run(config, result, evaluation, data, run_name=run_name, actor=actor)
    except AdapterError as exc:
        raise _failed(exc, "the run was not fully logged and nothing was registered") from exc
    logger.info("Logged MLflow run %s", logged.run_id)
    return logged


@_step("register and promote")
def register_task(
    settings: Settings,
    engine: Engine,
    store: ModelStore,
    logged: LoggedRun,
    auto_promote: bool,
    actor: Actor,
) -> tuple[int, bool, str, str]:
    try:
        version = store.register(logged)
    except AdapterError as exc:
        raise _failed(exc, f"run {logged.run_id} is logged; the champion did not change") from exc
    logger = get_run_logger()
    logger.info("Registered version %s as challenger", version)
    if not auto_promote:
        return version, False, "auto-promotion off: promote it from the Training page", ""
    predictor = HttpPredictor(settings.api_url, settings.api_token.get_secret_value())
    try:
        change = promote_and_serve(
            store,
            predictor,
            engine,
            version,
            actor,
            margin=settings.promotion_margin,
            # The run ends once the alias moved; the API loads the model after answering.
            wait_for_api=False,
            # A version just trained has served no live traffic: with this setting on, it stays
            # challenger (in shadow) until the live comparison supports it.
            live_evidence=settings.promotion_needs_live_evidence,
        )
    except PromotionRefused as exc:
        # Training succeeded; the gate (or a promotion made meanwhile) said no.
        logger.info("Not promoted: %s", exc)
        return version, False, str(exc), ""
    except AdapterError as exc:
        left = f"version {version} is the challenger; the champion did not change"
        raise _failed(exc, left, "Promote it from the Training page") from exc
    logger.info("Promoted version %s to champion (%s)", version, change.promotion.reason)
    logger.info("Predictor API: %s", change.serving)
    return version, True, change.promotion.reason, change.serving


def flow_run_over(flow_run_id: str) -> bool:
    """Whether the orchestrator's flow run ``flow_run_id`` has ended (unknown to it: it has).

    Unanswered, the answer is no: an MLflow run is only marked FAILED when its flow run is known
    to be over.
    """
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    except ObjectNotFound:
        return True
    except Exception:  # the orchestrator not answering, an id not its own: not known to be over
        return False
    return state is None or state.is_final()


def _failed(exc: AdapterError, left: str, then: str = "Train again") -> AdapterError:
    """``exc`` (same type) with what the run left behind and, for an outage, what to do."""
    advice = f" {then} once MLflow answers." if isinstance(exc, Unreachable) else ""
    return type(exc)(f"{exc}: {left}.{advice}")


@flow(name="train", log_prints=True)
def train_flow(
    config: TrainConfig | None = None,
    auto_promote: bool = True,
    actor: dict[str, Any] | None = None,
    run_name: str | None = None,
) -> dict:
    """Train on the loaded and feedback products, evaluate on the holdout, log, register, maybe
    promote.

    Args:
        config: Hyperparameters (validated: out-of-range values fail the run at once).
        auto_promote: Promote to champion when the gate passes.
        actor: Who started the run (:meth:`Actor.as_params`); recorded in MLflow's run tags and
            in the promotion log. Without it, the flow acts on its own.
        run_name: MLflow run name (defaults to the classifier and the data share).

    Returns:
        A :class:`TrainSummary` as a dict.
    """
    config = config or TrainConfig()
    who = Actor.flow("train", Actor.from_params(actor) if actor else None)
    settings = get_settings()
    this_run = flow_run.get_id()  # tags the MLflow run: a later run can tell it was abandoned
    store = model_store(
        settings.mlflow_tracking_uri,
        "flow",
        settings.mlflow_username,
        settings.mlflow_password,
        {FLOW_RUN_TAG: this_run} if this_run else None,
    )
    engine = make_engine(settings.database_url)
    params = {**config.model_dump(), "auto_promote": auto_promote, "run_name": run_name}
    try:
        ensure_schema(engine)
        with audited(SqlAuditLog(engine), who, Action.TRAIN, target="model", params=params):
            try:
                store.check_reachable()  # before the fit, which would be lost
            except AdapterError as exc:
                raise _failed(exc, "nothing was trained") from exc
            data = snapshot_task(engine)
            result = fit_task(config, data)
            evaluation = evaluate_task(result, data)
            name = run_name or f"{config.classifier} · {100 * data.loaded_share:.0f} % data"
            logged = log_task(store, config, result, evaluation, data, name, who)
            version, promoted, why, serving = register_task(
                settings, engine, store, logged, auto_promote, who
            )
    finally:
        engine.dispose()
    return asdict(
        TrainSummary(
            run_id=logged.run_id,
            version=version,
            weighted_f1=evaluation.weighted_f1,
            macro_f1=evaluation.macro_f1,
            accuracy=evaluation.accuracy,
            fit_seconds=result.fit_seconds,
            data_rows=len(data.products),
            feedback_rows=len(data.feedback),
            promoted=promoted,
            gate=why,
            serving=serving,
        )
    )
