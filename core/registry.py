"""The model registry: versions, the champion/challenger aliases, the promotion gate and log.

MLflow keeps the aliases (``models:/rakuten-product-classifier@champion``) but no history of
them, so every promotion and rollback is also written to ``promotion_log``; rollback walks that
log back to the champion before the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import Connection, Engine, insert, select

from core.db.tables import promotion_log
from core.tracking import MODEL_NAME

CHAMPION, CHALLENGER = "champion", "challenger"


class PromotionRefused(RuntimeError):
    """A promotion or rollback that the gate or the history does not allow."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One registered model version with what the registry page shows about it."""

    version: int
    run_id: str | None
    aliases: tuple[str, ...]
    created_at: datetime
    weighted_f1: float | None
    data_loaded_pct: float | None


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether a candidate may become champion, and why."""

    passed: bool
    candidate_f1: float | None
    champion_f1: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Promotion:
    """A change of champion that happened."""

    action: str
    from_version: int | None
    to_version: int
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
    aliases: dict[int, list[str]] = {}
    try:
        for alias, version in client.get_registered_model(MODEL_NAME).aliases.items():
            aliases.setdefault(int(version), []).append(alias)
    except MlflowException:
        pass  # no registered model yet
    infos = []
    for mv in versions:
        metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
        infos.append(
            VersionInfo(
                version=int(mv.version),
                run_id=mv.run_id,
                aliases=tuple(sorted(aliases.get(int(mv.version), []))),
                created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
                weighted_f1=metrics.get("weighted_f1"),
                data_loaded_pct=metrics.get("data_loaded_pct"),
            )
        )
    return sorted(infos, key=lambda v: v.version, reverse=True)


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


def promote(
    engine: Engine,
    client: MlflowClient,
    version: int,
    *,
    margin: float,
    triggered_by: str,
    force_reason: str | None = None,
) -> Promotion:
    """Make ``version`` the champion if the gate allows it, or when forced with a reason.

    Raises:
        PromotionRefused: Unknown version, the gate failed and no reason was given, or a forced
            promotion without a written reason.
    """
    versions = list_versions(client)
    candidate = next((v for v in versions if v.version == version), None)
    if candidate is None:
        raise PromotionRefused(f"Version {version} of {MODEL_NAME} does not exist.")
    current = champion(versions)
    verdict = gate(candidate, current, margin)
    if force_reason is not None:
        if not force_reason.strip():
            raise PromotionRefused("A forced promotion needs a written reason.")
        if current is not None and current.version == version:
            raise PromotionRefused(verdict.reason)
        action, reason = "force", f"forced: {force_reason.strip()} (gate: {verdict.reason})"
    elif not verdict.passed:
        raise PromotionRefused(f"Promotion gate refused: {verdict.reason}.")
    else:
        action, reason = "promote", f"gate passed: {verdict.reason}"
    from_version = current.version if current else None
    _switch(engine, client, action, from_version, version, triggered_by, reason, verdict)
    if CHALLENGER in candidate.aliases:
        client.delete_registered_model_alias(MODEL_NAME, CHALLENGER)
    return Promotion(action, from_version, version, reason)


def rollback(engine: Engine, client: MlflowClient, *, triggered_by: str) -> Promotion:
    """Give the champion alias back to the champion before the current one.

    Raises:
        PromotionRefused: The log holds no earlier champion.
    """
    with engine.connect() as conn:
        history = champion_history(promotion_log_frame(conn))
    if len(history) < 2:
        raise PromotionRefused("There is no earlier champion to roll back to.")
    current, previous = history[-1], history[-2]
    versions = {v.version: v for v in list_versions(client)}
    if previous not in versions:
        raise PromotionRefused(f"The earlier champion v{previous} is no longer registered.")
    verdict = GateVerdict(
        True, versions[previous].weighted_f1,
        versions[current].weighted_f1 if current in versions else None, "rollback",
    )  # fmt: skip
    reason = f"rolled back from v{current} to v{previous}"
    _switch(engine, client, "rollback", current, previous, triggered_by, reason, verdict)
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
        else:
            stack.append(int(row.to_version))
    return stack


def promotion_log_frame(conn: Connection) -> pd.DataFrame:
    """Every promotion and rollback, newest first."""
    columns = [c.name for c in promotion_log.columns]
    rows = conn.execute(select(promotion_log).order_by(promotion_log.c.id.desc())).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _switch(
    engine: Engine,
    client: MlflowClient,
    action: str,
    from_version: int | None,
    to_version: int,
    triggered_by: str,
    reason: str,
    verdict: GateVerdict,
) -> None:
    # The log row and the alias change commit together: if MLflow refuses the alias, the
    # transaction is rolled back and the log does not claim a change that did not happen.
    with engine.begin() as conn:
        conn.execute(
            insert(promotion_log).values(
                at=datetime.now(UTC), action=action, from_version=from_version,
                to_version=to_version, triggered_by=triggered_by[:100], reason=reason,
                candidate_f1=verdict.candidate_f1, champion_f1=verdict.champion_f1,
            )
        )  # fmt: skip
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, str(to_version))
