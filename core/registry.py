"""The model registry's terms: versions, the champion/challenger aliases and the promotion gate.

Reading and writing the registry is :mod:`core.adapters.model_store`'s job; moving the champion
alias (promotion, rollback) and its log live in :mod:`core.promotion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MODEL_NAME = "rakuten-product-classifier"  # the registered model
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
    learnt_from: str | None = None  # "31,050 loaded + 212 feedback products"; None: not recorded


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether a candidate may become champion, and why."""

    passed: bool
    candidate_f1: float | None
    champion_f1: float | None
    reason: str


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
            False,
            cand_f1,
            champ_f1,
            f"v{candidate.version} and v{current.version} were scored on different holdouts "
            "(the dataset was re-imported): their F1 cannot be compared",
        )
    bar = champ_f1 - margin
    # Compared at the precision shown (4 decimals): a difference nobody can see is a tie, and
    # ties pass, so retraining on the same data never looks like a regression.
    passed = round(cand_f1, 4) >= round(bar, 4)
    reason = (
        f"v{candidate.version} F1 {cand_f1:.4f} {'≥' if passed else '<'} "
        f"v{current.version} F1 {champ_f1:.4f}" + (f" − margin {margin:g}" if margin else "")
    )
    return GateVerdict(passed, cand_f1, champ_f1, reason)
