"""The follower of the registry's ``challenger`` alias: the version the API scores in shadow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from api.metrics import ApiMetrics
from api.model import AliasFollower, ServedModel
from core.adapters.model_refs import ServingSource, VersionRef
from core.registry import CHALLENGER, MODEL_NAME
from core.serving.compiled import ProductScorer

log = logging.getLogger("api.shadow")


class ChallengerFollower(AliasFollower):
    """Follows ``challenger`` in the same check cycle as the champion (poll, reload, signal).

    Unlike the champion's follower it keeps no local copy and holds on to nothing: when the alias
    is removed, when its version cannot be loaded, or when it points at the champion's version
    (nothing to compare), ``current`` is ``None`` and ``idle_reason`` says why — no request is
    scored in shadow. Only an unreachable registry leaves the version in hand, as for the
    champion: the registry's silence is not a decision to stop.
    """

    alias = CHALLENGER

    def __init__(
        self,
        store: ServingSource,
        metrics: ApiMetrics,
        champion: AliasFollower,
        loader: Callable[[ServingSource, VersionRef], ProductScorer] | None = None,
    ) -> None:
        super().__init__(store, metrics, loader)
        self._champion = champion
        self.idle_reason: str | None = "the challenger alias was not checked yet"
        metrics.shadow_version.set(0)

    @property
    def champion(self) -> AliasFollower:
        """The champion's follower (a canary answer is scored by the champion in shadow)."""
        return self._champion

    def _follow(self, ref: VersionRef) -> bool:
        served = self._champion.current
        if served is not None and served.version == ref.version:
            self.last_error = None
            self._drop(
                f"the challenger (version {ref.version}) is the champion: nothing to compare"
            )
            return False
        return super()._follow(ref)

    def _missing(self, reason: str) -> bool:
        self.last_error = None  # no challenger is a state of the registry, not a failure
        self._drop(reason)
        return False

    def _unreachable(self, since: datetime, reason: str) -> bool:
        self.last_error = reason
        if self.current is None:
            self.idle_reason = reason
        return False

    def _agreed(self) -> None:
        self.last_error = self.idle_reason = None

    def _load_failed(self) -> None:
        self._drop(self.last_error or "the challenger could not be loaded")

    def _swapped(self, model: ServedModel, previous: ServedModel | None) -> None:
        self.idle_reason = None
        self._metrics.shadow_version.set(model.version)
        was = previous.version if previous else "none"
        log.info("scoring %s version %s in shadow (was %s)", MODEL_NAME, model.version, was)

    def _drop(self, reason: str) -> None:
        if self.current is not None:
            log.info("no longer scoring version %s in shadow: %s", self.current.version, reason)
        self.current, self.idle_reason = None, reason
        self._metrics.shadow_version.set(0)
