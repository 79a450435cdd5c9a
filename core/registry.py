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
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from sqlalchemy import Connection, Engine, insert, select, text, update

from core.db.tables import promotion_log
from core.tracking import EXPERIMENT, HOLDOUT_TAG, MODEL_NAME

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
    holdout_digest: str | None = None


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
    if force_reason is not None and not force_reason.strip():
        raise PromotionRefused("A forced promotion needs a written reason.")
    with engine.begin() as conn:
        # Read, judge and switch under one lock: two promotions (a click and the train flow's
        # auto-promotion) cannot both pass the gate against the same old champion.
        _lock_promotions(conn)
        versions = list_versions(client)
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
        _switch(conn, client, action, from_version, version, triggered_by, reason, verdict)
    if CHALLENGER in candidate.aliases:
        client.delete_registered_model_alias(MODEL_NAME, CHALLENGER)
    return Promotion(action, from_version, version, reason)


def rollback(engine: Engine, client: MlflowClient, *, triggered_by: str) -> Promotion:
    """Give the champion alias back to the champion before the current one.

    Raises:
        PromotionRefused: The log holds no earlier champion.
    """
    with engine.begin() as conn:
        _lock_promotions(conn)
        history = champion_history(promotion_log_frame(conn))
        if len(history) < 2:
            raise PromotionRefused("There is no earlier champion to roll back to.")
        current, previous = history[-1], history[-2]
        versions = {v.version: v for v in list_versions(client)}
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
        _switch(conn, client, "rollback", current, previous, triggered_by, reason, verdict)
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
    client: MlflowClient,
    action: str,
    from_version: int | None,
    to_version: int,
    triggered_by: str,
    reason: str,
    verdict: GateVerdict,
) -> None:
    # The log row is written first and the alias moved last, inside the caller's transaction:
    # if MLflow refuses the alias, the row is rolled back with it.
    conn.execute(
        insert(promotion_log).values(
            at=datetime.now(UTC), action=action, from_version=from_version,
            to_version=to_version, triggered_by=triggered_by[:100], reason=reason,
            candidate_f1=verdict.candidate_f1, champion_f1=verdict.champion_f1,
        )
    )  # fmt: skip
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, str(to_version))
