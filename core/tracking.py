"""Logging a training run to MLflow: params, metrics, data snapshot, artifacts and the model."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in servers and flow workers

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402

from core.access import Action, Actor, checks, require  # noqa: E402
from core.data.queries import TrainingData  # noqa: E402
from core.data.store import catalogue_digest  # noqa: E402
from core.evaluate import Evaluation, classification_report  # noqa: E402
from core.train import INPUT_COLUMNS, FitResult, TrainConfig  # noqa: E402

EXPERIMENT = "rakuten-product-classifier"
MODEL_NAME = "rakuten-product-classifier"
MODEL_ARTIFACT = "model"
HOLDOUT_TAG = "holdout_digest"
CONFUSION_JSON = "evaluation/confusion_matrix.json"
PER_CLASS_JSON = "evaluation/per_class.json"
CORE_PACKAGE = Path(__file__).resolve().parent
MODEL_MODULES = ("__init__.py", "train.py", "features.py")  # what TextColumns needs to unpickle
MODEL_REQUIREMENTS = [
    f"{name}=={version(name)}" for name in ("scikit-learn", "pandas", "numpy", "cloudpickle")
]


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
) -> LoggedRun:
    """Record one training run in MLflow.

    Args:
        tracking_uri: MLflow tracking URI (server URL, or a local store in tests).
        config: Hyperparameters, logged as params.
        result: The fitted pipeline and its fit time.
        evaluation: Holdout scores; headline and per-class metrics plus artifacts.
        data: The training snapshot (stage, row count, digest), logged as params and tags.
        run_name: Name shown in MLflow and in the app.
        actor: Who started the run: tagged ``triggered_by`` (its label) and ``rakuten.actor*``.

    Returns:
        The run id and the logged model's URI.

    Raises:
        PermissionDenied: ``actor`` may not train (the train flow's guard writes the audit row).
    """
    require(actor, Action.TRAIN)
    mlflow.set_tracking_uri(tracking_uri)
    _ensure_experiment(tracking_uri)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags(
            {
                "triggered_by": actor.label,
                "rakuten.actor": actor.subject,
                "rakuten.actor_via": actor.via,
                "rakuten.actor_role": actor.role.value,
                "data_digest": data.digest,
                HOLDOUT_TAG: catalogue_digest(data.holdout["productid"]),
            }
        )
        mlflow.log_params(
            {
                **config.params(),
                "data_stage_pct": data.stage_bp / 100,
                "data_rows": len(data.products),
                "data_digest": data.digest[:16],
                "holdout_rows": len(data.holdout),
            }
        )
        mlflow.log_metrics(
            {
                **evaluation.metrics(),
                "fit_seconds": result.fit_seconds,
                "data_loaded_pct": 100 * data.loaded_share,
            }
        )
        mlflow.log_text(classification_report(evaluation), "evaluation/classification_report.txt")
        mlflow.log_dict(_confusion_dict(evaluation.confusion), CONFUSION_JSON)
        mlflow.log_dict({"classes": evaluation.per_class.to_dict("records")}, PER_CLASS_JSON)
        figure = confusion_figure(evaluation)
        mlflow.log_figure(figure, "evaluation/confusion_matrix.png")
        plt.close(figure)

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
        return LoggedRun(run_id=run.info.run_id, model_uri=info.model_uri, model_id=info.model_id)


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


def confusion_figure(evaluation: Evaluation) -> plt.Figure:
    """Row-normalised confusion matrix as a static figure (the app draws its own, interactive)."""
    counts = evaluation.confusion.to_numpy()
    share = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    figure, axes = plt.subplots(figsize=(9, 8), dpi=80)
    image = axes.imshow(share, cmap="Reds", vmin=0, vmax=1)
    labels = [str(c) for c in evaluation.confusion.index]
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    axes.set_xlabel("predicted prdtypecode")
    axes.set_ylabel("true prdtypecode")
    axes.set_title(f"Holdout confusion (row share) — weighted F1 {evaluation.weighted_f1:.3f}")
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    return figure
