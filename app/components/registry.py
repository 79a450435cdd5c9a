"""Registry panel widgets: pick a version, see the gate's verdict, promote, force, roll back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

from app import state
from app.components.models import versions_table
from app.components.permissions import NO_REFUSALS
from core.access.permissions import Action
from core.registry import CHAMPION, GateVerdict, VersionInfo
from core.shadow.compare import LiveComparison
from core.usecases.promotion import ChampionChange


@dataclass(frozen=True)
class PromotionAction:
    """What the person confirmed: promote ``version`` (forced with a reason) or roll back."""

    version: int
    force_reason: str | None = None
    rollback: bool = False


def registry_panel(versions: list[VersionInfo]) -> int | None:
    """The registered versions and the one to consider for promotion (None: there are none)."""
    if not versions:
        st.caption("No registered versions yet: every training run registers one.")
        return None
    versions_table(versions)
    return version_picker(versions)


def change_message(change: ChampionChange) -> str:
    """What a promotion or rollback did, and what the API serves now."""
    done = change.promotion
    return f"Champion is now v{done.to_version} ({done.action}: {done.reason}). {change.serving}"


def version_picker(versions: list[VersionInfo]) -> int:
    """The version to consider for promotion (the newest by default)."""
    labels = {
        v.version: f"v{v.version}"
        + (f" ({', '.join(v.aliases)})" if v.aliases else "")
        + (f" — F1 {v.weighted_f1:.4f}" if v.weighted_f1 is not None else "")
        for v in versions
    }
    # No fixed key: when a version is added or an alias moves, the choice resets to the newest.
    return st.selectbox("Version", list(labels), format_func=labels.__getitem__)


def promotion_actions(
    version: int,
    verdict: GateVerdict,
    versions: list[VersionInfo],
    refused: Mapping[Action, str] = NO_REFUSALS,
    live: LiveComparison | None = None,
) -> PromotionAction | None:
    """The gate's verdict (the holdout rule, with the live evidence beside it), *Promote*,
    *Force* (with a reason) and *Rollback* (confirmed); those whose action is ``refused`` are
    disabled with the reason."""
    is_champion = any(v.version == version and CHAMPION in v.aliases for v in versions)
    evidence = f" Live evidence: {live.evidence()}." if live is not None and live.pairs else ""
    if is_champion:
        st.info(f"v{version} is the champion.")
    elif verdict.passed:
        st.success(f"Promotion gate: passes — {verdict.reason}.{evidence}")
    else:
        st.warning(f"Promotion gate: refuses — {verdict.reason}.{evidence}")
    buttons = st.container(horizontal=True)
    if buttons.button(
        f"Promote v{version} to champion",
        type="primary",
        icon=":material/trophy:",
        disabled=is_champion or not verdict.passed or Action.PROMOTE in refused,
        help=refused.get(Action.PROMOTE),
    ):
        return PromotionAction(version)
    with buttons.popover(
        "Force…",
        disabled=is_champion or verdict.passed or Action.FORCE_PROMOTE in refused,
        help=refused.get(Action.FORCE_PROMOTE),
    ):
        reason = st.text_area(
            "Why promote despite the gate?",
            key=state.TRAINING_FORCE_REASON,
            placeholder="e.g. the champion was trained on mislabelled data",
        )
        if st.button("Force promotion", type="primary", disabled=not reason.strip()):
            return PromotionAction(version, force_reason=reason)
    with buttons.popover(
        "Rollback…",
        icon=":material/undo:",
        disabled=Action.ROLLBACK in refused,
        help=refused.get(Action.ROLLBACK),
    ):
        st.write("Give the champion alias back to the previous champion?")
        if st.button("Yes, roll back", type="primary"):
            return PromotionAction(version, rollback=True)
    return None
