"""RegistryManager: the registered versions, the promotion gate, promotions and rollbacks."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from sqlalchemy import Engine

from app.managers.errors import NotFound
from app.managers.experiments import store_errors
from core import promotion
from core.access import Action, Actor, checks
from core.adapters.model_store import ModelStore
from core.adapters.predictor import Predictor
from core.db.engine import ensure_schema
from core.registry import GateVerdict, VersionInfo, champion, gate
from core.usecases.promotion import (
    ChampionChange,
    live_gate,
    promote_and_serve,
    rollback_and_serve,
)


class RegistryManager:
    """Changes the champion through the gate and the promotion log, then has the API serve it."""

    def __init__(
        self,
        store: ModelStore,
        predictor: Predictor,
        engine: Engine,
        margin: float,
        *,
        live_evidence: bool = False,
    ) -> None:
        self._store = store
        self._predictor = predictor
        self._engine = engine
        self._margin = margin
        self._live_evidence = live_evidence  # RAKUTEN_PROMOTION_NEEDS_LIVE_EVIDENCE

    def versions(self) -> list[VersionInfo]:
        """Registered versions, newest first, with aliases and scores."""
        with store_errors(self._store):
            self._store.check_reachable()
            return self._store.versions()

    def champion(self) -> VersionInfo | None:
        """The version carrying the champion alias, if any."""
        return champion(self.versions())

    def gate(self, version: int) -> GateVerdict:
        """Would ``version`` pass the promotion gate against the current champion (and, when the
        settings ask for it, the live gate)?"""
        versions = self.versions()
        candidate = next((v for v in versions if v.version == version), None)
        if candidate is None:
            raise NotFound(f"Version {version} is not registered.")
        current = champion(versions)
        verdict = gate(candidate, current, self._margin)
        if not self._live_evidence or current is None or current.version == version:
            return verdict
        with store_errors(self._store):
            ensure_schema(self._engine)
            passed, reason = live_gate(self._engine, version)
        return replace(
            verdict, passed=verdict.passed and passed, reason=f"{verdict.reason}; {reason}"
        )

    @checks(Action.PROMOTE, Action.FORCE_PROMOTE)
    def promote(
        self, version: int, actor: Actor, force_reason: str | None = None
    ) -> ChampionChange:
        """Make ``version`` champion through the gate (or forced with a reason), then serve it."""
        with store_errors(self._store):
            self._ready()
            return promote_and_serve(
                self._store,
                self._predictor,
                self._engine,
                version,
                actor,
                margin=self._margin,
                force_reason=force_reason,
                live_evidence=self._live_evidence,
            )

    @checks(Action.ROLLBACK)
    def rollback(self, actor: Actor) -> ChampionChange:
        """Give the champion alias back to the previous champion, then serve it."""
        with store_errors(self._store):
            self._ready()
            return rollback_and_serve(self._store, self._predictor, self._engine, actor)

    def promotion_log(self) -> pd.DataFrame:
        """Every promotion and rollback, newest first."""
        with store_errors(self._store):
            ensure_schema(self._engine)
            with self._engine.connect() as conn:
                return promotion.promotion_log_frame(conn)

    def _ready(self) -> None:
        self._store.check_reachable()
        ensure_schema(self._engine)  # the promotion log lives in our database
