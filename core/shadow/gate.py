"""The live gate: promote only when the live comparison supports it too (a setting asks for it).

The holdout gate (:func:`core.registry.gate`) always applies; this one adds that enough labelled
live requests were scored by both models and that the challenger was right at least as often.
"""

from __future__ import annotations

from core.shadow.compare import LIVE_MIN_LABELLED, LiveComparison


def live_verdict(comparison: LiveComparison) -> tuple[bool, str]:
    """The live gate: enough labelled requests, and the challenger right at least as often as
    the champion on them (the holdout gate still applies; this one is asked for by a setting)."""
    version = comparison.challenger_version
    name = f"v{version}" if version is not None else "the challenger"
    if comparison.labelled < LIVE_MIN_LABELLED:
        return False, (
            f"live evidence: {comparison.labelled} labelled request(s) scored by {name} and the "
            f"champion, at least {LIVE_MIN_LABELLED} needed"
        )
    champion, challenger = comparison.champion_right, comparison.challenger_right
    passed = challenger >= champion
    return passed, (
        f"live evidence: {name} right on {challenger} of {comparison.labelled} labelled "
        f"request(s) {'≥' if passed else '<'} the champion's {champion}"
    )
