"""Logging a training run to MLflow: params, metrics, data snapshot, artifacts and the model.

A run that fails ends FAILED at once when MLflow still answers. When MLflow is what failed, the
run cannot be ended: it stays RUNNING, tagged with the flow run that started it
(:data:`FLOW_RUN_TAG`), until a later train run finds it with :func:`close_abandoned_runs`.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus, RunStatus
from mlflow.models import infer_signature

from core.access import Action, Actor, checks, require
from core.adapters.mlflow_http import brief_requests
from core.data.feedback import EMPTY_DIGEST, LearntFrom, describe_rows
from core.data.queries import TrainingData
from core.data.store import catalogue_digest
from core.evaluate import Evaluation, classification_report
from core.registry import MODEL_NAME as MODEL_NAME  # re-exported: its importers predate the move
from core.train import INPUT_COLUMNS, FitResult, TrainConfig

EXPERIMENT = "rakuten-product-classifier"
MODEL_ARTIFACT = "model"
HOLDOUT_TAG = "holdout_digest"
FEEDBACK_TAG = "feedback_digest"
FLOW_RUN_TAG = "rakuten.flow_run_id"  # the orchestrator's run that logs this one
CONFUSION_JSON = "evaluation/confusion_matrix.json"
PER_CLASS_JSON = "evaluation/per_class.json"
REPORT_TEXT = "evaluation/classification_report.txt"
CORE_PACKAGE = Path(__file__).resolve().parent
MODEL_MODULES = ("__init__.py", "train.py", "features.py", "linear_softmax.py")  # to unpickle
MODEL_REQUIREMENTS = [
    f"{name}=={version(name)}" for name in ("scikit-learn", "pandas", "numpy", "cloudpickle")
]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedRun:
    """Where a run's model went."""

    run_id: str
    model_uri: str
    model_id: str


@checks(Action.TRAIN)
def log_training_run(
    tracking_uri: str,
    config: TrainConfig,
    result: FitResult,
    evaluation: Evaluation,
    data: TrainingData,
    *,
    run_name: str,
    actor: Actor,
    tags: Mapping[str, str] | None = None,
) -> LoggedRun:
    """Record one training run in MLflow; a run that fails is ended FAILED (when MLflow answers).

    Args:
        tracking_uri: MLflow tracking URI (server URL, or a local store in tests).
        config: Hyperparameters, logged as params.
        result: The fitted pipeline and its fit time.
        evaluation: Holdout scores; headline and per-class metrics plus artifacts.
        data: The training snapshot (stage, row count, digest), logged as params and tags.
        run_name: Name shown in MLflow and in the app.
        actor: Who started the run: tagged ``triggered_by`` (its label) and ``rakuten.actor*``.
        tags: More tags (the flow run's id: :data:`FLOW_RUN_TAG`).

    Returns:
        The run id and the logged model's URI.

    Raises:
        PermissionDenied: ``actor`` may not train (the train flow's guard writes the audit row).
    """
    require(actor, Action.TRAIN)
    mlflow.set_tracking_uri(tracking_uri)
    _ensure_experiment(tracking_uri)
    run = mlflow.start_run(run_name=run_name, tags=dict(tags or {}))
    try:
        logged = _log_run(run.info.run_id, config, result, evaluation, data, actor)
    except BaseException:
        _end_failed(run.info.run_id)
        raise
    mlflow.end_run()
    return logged


def _log_run(
    run_id: str,
    config: TrainConfig,
    result: FitResult,
    evaluation: Evaluation,
    data: TrainingData,
    actor: Actor,
) -> LoggedRun:
    """Tags, params, the model, metrics and reports into the active run ``run_id``."""
    mlflow.set_tags(
        {
            "triggered_by": actor.label,
            "rakuten.actor": actor.subject,
            "rakuten.actor_via": actor.via,
            "rakuten.actor_role": actor.role.value,
            **snapshot_tags(data),
        }
    )
    mlflow.log_params({**config.params(), **snapshot_params(data)})
    example = data.holdout[list(INPUT_COLUMNS)].head(5).reset_index(drop=True)
    signature = infer_signature(example, result.pipeline.predict(example))
    with tempfile.TemporaryDirectory() as code_dir:
        info = mlflow.sklearn.log_model(
            result.pipeline,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=example,
            # The pipeline's first step lives in core/: ship it, so the model loads anywhere.
            code_paths=[str(_model_code(Path(code_dir)))],
            # MLflow's default (skops) took ~110 s and 59 MB for the full-size pipeline here;
            # cloudpickle takes 0.3 s and 7 MB. Models come only from our own runs.
            serialization_format="cloudpickle",
            # Inferring requirements loads the model in a subprocess: ~6 s for nothing.
            pip_requirements=MODEL_REQUIREMENTS,
        )
    # After log_model, and linked to its model in the same request: log_model re-reads every
    # metric already on the run to link it (one request per metric, ~1.5 s for 30 metrics).
    mlflow.log_metrics(
        {
            **evaluation.metrics(),
            "fit_seconds": result.fit_seconds,
            "data_loaded_pct": 100 * data.loaded_share,
        },
        model_id=info.model_id,
    )
    _log_evaluation(evaluation)
    return LoggedRun(run_id=run_id, model_uri=info.model_uri, model_id=info.model_id)


def snapshot_tags(data: TrainingData) -> dict[str, str]:
    """The run's tags naming its data in full: loaded products, feedback products, holdout."""
    return {
        "data_digest": data.digest,
        FEEDBACK_TAG: data.feedback_digest,
        HOLDOUT_TAG: catalogue_digest(data.holdout["productid"]),
    }


def snapshot_params(data: TrainingData) -> dict[str, object]:
    """The run's params describing its data; ``data_rows`` counts the loaded products only."""
    return {
        "data_stage_pct": data.stage_bp / 100,
        "data_rows": len(data.products),
        "data_digest": data.digest[:16],
        "feedback_rows": len(data.feedback),
        "feedback_digest": data.feedback_digest[:16],
        "holdout_rows": len(data.holdout),
    }


def learnt_from_run(params: Mapping[str, str], tags: Mapping[str, str]) -> LearntFrom:
    """What a logged run learnt from, read back from :func:`snapshot_params` and its tags.

    A run logged before feedback joined the training data learnt from no feedback; one without
    a data digest (or count) has an unknown ``loaded_digest`` (empty).
    """
    rows = params.get("data_rows")
    return LearntFrom(
        loaded_rows=int(rows) if rows else 0,
        loaded_digest=tags.get("data_digest") or params.get("data_digest") or "",
        feedback_rows=int(params.get("feedback_rows") or 0),
        feedback_digest=tags.get(FEEDBACK_TAG) or params.get("feedback_digest") or EMPTY_DIGEST,
    )


def learnt_from_text(params: Mapping[str, str]) -> str | None:
    """``"31,050 loaded + 212 feedback products"``; ``None`` for a run logged before feedback."""
    rows, feedback = params.get("data_rows"), params.get("feedback_rows")
    if rows is None or feedback is None:
        return None
    return describe_rows(int(rows), int(feedback))


def _end_failed(run_id: str) -> None:
    """End the active run FAILED, trying once: MLflow may be what failed.

    The run leaves this process's stack either way (MLflow pops it before asking the server), so
    the next run of the same process starts clean.
    """
    try:
        with brief_requests():
            mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
    except Exception as exc:  # the failure being reported matters more than this one
        log.warning(
            "MLflow run %s stays RUNNING for now (%s); the next train run marks it FAILED",
            run_id,
            type(exc).__name__,
        )


def close_abandoned_runs(tracking_uri: str, is_over: Callable[[str], bool]) -> list[str]:
    """Mark FAILED the training runs that an earlier flow run left RUNNING when MLflow went away.

    A run qualifies when it is still RUNNING, carries :data:`FLOW_RUN_TAG` and ``is_over`` says
    that flow run has ended; its logged models still PENDING (an upload cut off) end FAILED too.
    Runs without the tag (logged outside a flow) are left alone: nothing says they are over.

    Args:
        tracking_uri: MLflow tracking URI.
        is_over: Whether the flow run with this id has ended (the orchestrator knows).

    Returns:
        The ids of the runs it ended.
    """
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    ids = [experiment.experiment_id]
    closed = []
    for run in client.search_runs(ids, "attributes.status = 'RUNNING'", max_results=100):
        owner = run.data.tags.get(FLOW_RUN_TAG)
        if not owner or not is_over(owner):
            continue
        run_id = run.info.run_id
        for model in client.search_logged_models(ids, f"source_run_id = '{run_id}'"):
            if model.status == LoggedModelStatus.PENDING:
                client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        log.info("MLflow run %s, abandoned by flow run %s, marked FAILED", run_id, owner)
        closed.append(run_id)
    return closed


def _log_evaluation(evaluation: Evaluation) -> None:
    """The report, the confusion matrix and the per-class scores, in one call.

    No static figure: the app draws its own heatmap from the JSON (a matplotlib PNG cost ~1 s a
    run to import, draw and upload).
    """
    payload = {
        REPORT_TEXT: classification_report(evaluation),
        CONFUSION_JSON: json.dumps(_confusion_dict(evaluation.confusion)),
        PER_CLASS_JSON: json.dumps({"classes": evaluation.per_class.to_dict("records")}),
    }
    with tempfile.TemporaryDirectory() as folder:
        for name, text in payload.items():
            (Path(folder) / Path(name).name).write_text(text)
        mlflow.log_artifacts(folder, Path(CONFUSION_JSON).parent.as_posix())


def _model_code(directory: Path) -> Path:
    """A copy of just the modules the pickled pipeline refers to, as the package ``core``.

    Shipping all of core/ (caches included) cost one artifact upload per file.
    """
    package = directory / "core"
    package.mkdir()
    for module in MODEL_MODULES:
        shutil.copy2(CORE_PACKAGE / module, package / module)
    return package


def _ensure_experiment(tracking_uri: str) -> None:
    # A server decides where artifacts go; a local SQLite store would default to ./mlruns in
    # whatever directory the process runs from, so keep them beside the database instead.
    if mlflow.get_experiment_by_name(EXPERIMENT) is None and tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri.removeprefix("sqlite:///"))
        mlflow.create_experiment(
            EXPERIMENT, artifact_location=(database.parent / "mlruns").as_uri()
        )
    mlflow.set_experiment(EXPERIMENT)


def _confusion_dict(confusion: pd.DataFrame) -> dict[str, list]:
    return {
        "labels": [int(c) for c in confusion.index],
        "matrix": confusion.to_numpy().tolist(),
    }


def confusion_from_dict(payload: dict[str, list]) -> pd.DataFrame:
    """Inverse of the logged confusion-matrix JSON."""
    labels = payload["labels"]
    return pd.DataFrame(payload["matrix"], index=labels, columns=labels)
