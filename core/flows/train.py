"""The train flow: snapshot → fit → evaluate → log → register → promote when the gate passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import ParamSpec, TypeVar

import requests
from mlflow import MlflowClient
from prefect import Task, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from core import promotion, registry
from core.data.queries import TrainingData, training_data
from core.db.engine import ensure_schema, make_engine
from core.evaluate import Evaluation, evaluate
from core.settings import Settings, get_settings
from core.tracking import LoggedRun, log_training_run
from core.train import FitResult, TrainConfig, TrainingError, fit

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
    data_rows: int
    promoted: bool
    gate: str


@_step("snapshot")
def snapshot_task(engine: Engine) -> TrainingData:
    with engine.connect() as conn:
        data = training_data(conn)
    if data.products.empty:
        raise TrainingError("No products are loaded: initialize the data on the Dataset page.")
    if data.holdout.empty:
        raise TrainingError("The holdout is empty: import a dataset with more products per class.")
    get_run_logger().info(
        "Snapshot: %s products (%.1f %% of the pool), %s holdout, digest %s",
        f"{len(data.products):,}", 100 * data.loaded_share, f"{len(data.holdout):,}",
        data.digest[:12],
    )  # fmt: skip
    return data


@_step("fit")
def fit_task(config: TrainConfig, data: TrainingData) -> FitResult:
    result = fit(config, data.products)
    get_run_logger().info("Fitted %s in %.1f s", config.classifier, result.fit_seconds)
    return result


@_step("evaluate")
def evaluate_task(result: FitResult, data: TrainingData) -> Evaluation:
    evaluation = evaluate(result.pipeline, data.holdout)
    get_run_logger().info(
        "Holdout: weighted F1 %.4f, macro F1 %.4f, accuracy %.4f",
        evaluation.weighted_f1, evaluation.macro_f1, evaluation.accuracy,
    )  # fmt: skip
    return evaluation


@_step("log to MLflow")
def log_task(
    settings: Settings, config: TrainConfig, result: FitResult, evaluation: Evaluation,
    data: TrainingData, run_name: str, triggered_by: str,
) -> LoggedRun:  # fmt: skip
    logged = log_training_run(
        settings.mlflow_tracking_uri, config, result, evaluation, data,
        run_name=run_name, triggered_by=triggered_by,
    )  # fmt: skip
    get_run_logger().info("Logged MLflow run %s", logged.run_id)
    return logged


@_step("register and promote")
def register_task(
    settings: Settings, engine: Engine, logged: LoggedRun, auto_promote: bool, triggered_by: str
) -> tuple[int, bool, str]:
    client = MlflowClient(settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    version = registry.register(client, logged.model_uri, logged.run_id, logged.model_id)
    logger = get_run_logger()
    logger.info("Registered version %s as challenger", version)
    if not auto_promote:
        return version, False, "auto-promotion off: promote it from the Training page"
    try:
        done = promotion.promote(
            engine, client, version, margin=settings.promotion_margin, triggered_by=triggered_by
        )
    except promotion.PromotionRefused as exc:
        # Training succeeded; the gate (or a promotion made meanwhile) said no.
        logger.info("Not promoted: %s", exc)
        return version, False, str(exc)
    logger.info("Promoted version %s to champion (%s)", version, done.reason)
    logger.info("Predictor API: %s", ask_api_to_reload(settings))
    return version, True, done.reason


def ask_api_to_reload(settings: Settings) -> str:
    """Tell the predictor API the champion moved, so it serves it now rather than at its next
    alias check; never fails the flow (the API checks on its own anyway). Says what happened."""
    if not settings.api_token:
        return "reload disabled (no RAKUTEN_API_TOKEN): it switches at its next alias check"
    try:
        answer = requests.post(
            f"{settings.api_url.rstrip('/')}/model/reload", timeout=30,
            headers={"Authorization": f"Bearer {settings.api_token}"},
        )  # fmt: skip
    except requests.RequestException as exc:
        return f"not reachable at {settings.api_url} ({type(exc).__name__}); it checks on its own"
    if not answer.ok:
        return f"reload answered {answer.status_code}; it switches at its next alias check"
    return f"reloaded, serving v{(answer.json().get('model') or {}).get('version')}"


@flow(name="train", log_prints=True)
def train_flow(
    config: TrainConfig | None = None,
    auto_promote: bool = True,
    triggered_by: str = "prefect",
    run_name: str | None = None,
) -> dict:
    """Train on the loaded products, evaluate on the holdout, log, register, maybe promote.

    Args:
        config: Hyperparameters (validated: out-of-range values fail the run at once).
        auto_promote: Promote to champion when the gate passes.
        triggered_by: Recorded in MLflow and in the promotion log.
        run_name: MLflow run name (defaults to the classifier and the data share).

    Returns:
        A :class:`TrainSummary` as a dict.
    """
    config = config or TrainConfig()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        data = snapshot_task(engine)
        result = fit_task(config, data)
        evaluation = evaluate_task(result, data)
        name = run_name or f"{config.classifier} · {100 * data.loaded_share:.0f} % data"
        logged = log_task(settings, config, result, evaluation, data, name, triggered_by)
        version, promoted, why = register_task(settings, engine, logged, auto_promote, triggered_by)
    finally:
        engine.dispose()
    return asdict(
        TrainSummary(
            run_id=logged.run_id, version=version, weighted_f1=evaluation.weighted_f1,
            macro_f1=evaluation.macro_f1, accuracy=evaluation.accuracy,
            fit_seconds=result.fit_seconds, data_rows=len(data.products), promoted=promoted,
            gate=why,
        )
    )  # fmt: skip
