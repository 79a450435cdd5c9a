"""The model registry: versions, the champion/challenger aliases and the promotion gate.

Moving the champion alias (promotion, rollback) and its log live in :mod:`core.promotion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from core.tracking import EXPERIMENT, HOLDOUT_TAG, MODEL_NAME

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One registered model version with what the registry page shows about it."""

    version: int
    run_id: str | None
    aliases: tuple[str, ...]
    created_at: datetime
    weighted_f1: float | None
    data_loaded_pct: float | None
    holdout_digest: str | None = None


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether a candidate may become champion, and why."""

    passed: bool
    candidate_f1: float | None
    champion_f1: float | None
    reason: str


def register(client: MlflowClient, model_uri: str, run_id: str, model_id: str) -> int:
    """Register a logged model as a new version and make it the challenger.

    Args:
        client: MLflow client.
        model_uri: The logged model's URI (``models:/m-…``).
        run_id: The run that produced it.
        model_id: The logged model's id (a tracking server refuses the URI without it).

    Returns:
        The new version number.
    """
    try:
        client.create_registered_model(MODEL_NAME)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    created = client.create_model_version(MODEL_NAME, model_uri, run_id=run_id, model_id=model_id)
    version = int(created.version)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, str(version))
    return version


def list_versions(client: MlflowClient) -> list[VersionInfo]:
    """Every registered version, newest first, with aliases and headline metrics."""
    try:
        versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return []
        raise
    if not versions:
        return []
    aliases: dict[int, list[str]] = {}
    # Any failure here must surface: "no aliases" would mean "no champion" to the gate.
    for alias, version in client.get_registered_model(MODEL_NAME).aliases.items():
        aliases.setdefault(int(version), []).append(alias)
    runs = _runs_by_id(client, [mv.run_id for mv in versions if mv.run_id])
    infos = []
    for mv in versions:
        run = runs.get(mv.run_id or "")  # a deleted run leaves its version without scores
        metrics = run.data.metrics if run else {}
        infos.append(
            VersionInfo(
                version=int(mv.version),
                run_id=mv.run_id,
                aliases=tuple(sorted(aliases.get(int(mv.version), []))),
                created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
                weighted_f1=metrics.get("weighted_f1"),
                data_loaded_pct=metrics.get("data_loaded_pct"),
                holdout_digest=run.data.tags.get(HOLDOUT_TAG) if run else None,
            )
        )
    return sorted(infos, key=lambda v: v.version, reverse=True)


def _runs_by_id(client: MlflowClient, run_ids: list[str]) -> dict[str, Run]:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None or not run_ids:
        return {}
    found: dict[str, Run] = {}
    for start in range(0, len(run_ids), 100):  # one query per hundred versions
        quoted = ", ".join(f"'{r}'" for r in run_ids[start : start + 100])
        for run in client.search_runs(
            [experiment.experiment_id], filter_string=f"attributes.run_id IN ({quoted})",
            max_results=100,
        ):  # fmt: skip
            found[run.info.run_id] = run
    return found


def champion(versions: list[VersionInfo]) -> VersionInfo | None:
    """The version carrying the champion alias, if any."""
    return next((v for v in versions if CHAMPION in v.aliases), None)


def gate(candidate: VersionInfo, current: VersionInfo | None, margin: float) -> GateVerdict:
    """A candidate passes when its holdout weighted F1 ≥ the champion's minus ``margin``.

    Args:
        candidate: The version that would become champion.
        current: The current champion, or None.
        margin: Tolerance below the champion's score.

    Returns:
        The verdict with a sentence explaining it.
    """
    cand_f1 = candidate.weighted_f1
    if current is None:
        return GateVerdict(True, cand_f1, None, "no champion yet")
    champ_f1 = current.weighted_f1
    if current.version == candidate.version:
        return GateVerdict(False, cand_f1, champ_f1, f"v{candidate.version} is already champion")
    if cand_f1 is None or champ_f1 is None:
        return GateVerdict(False, cand_f1, champ_f1, "a weighted F1 is missing: cannot compare")
    if (
        candidate.holdout_digest
        and current.holdout_digest
        and (candidate.holdout_digest != current.holdout_digest)
    ):
        return GateVerdict(
            False, cand_f1, champ_f1,
            f"v{candidate.version} and v{current.version} were scored on different holdouts "
            "(the dataset was re-imported): their F1 cannot be compared",
        )  # fmt: skip
    bar = champ_f1 - margin
    # Compared at the precision shown (4 decimals): a difference nobody can see is a tie, and
    # ties pass, so retraining on the same data never looks like a regression.
    if round(cand_f1, 4) >= round(bar, 4):
        return GateVerdict(
            True, cand_f1, champ_f1,
            f"v{candidate.version} F1 {cand_f1:.4f} ≥ v{current.version} F1 {champ_f1:.4f}"
            + (f" − margin {margin:g}" if margin else ""),
        )  # fmt: skip
    return GateVerdict(
        False, cand_f1, champ_f1,
        f"v{candidate.version} F1 {cand_f1:.4f} < v{current.version} F1 {champ_f1:.4f}"
        + (f" − margin {margin:g}" if margin else ""),
    )  # fmt: skip
