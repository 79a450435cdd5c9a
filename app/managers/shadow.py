"""ShadowManager: the challenger against the champion on live traffic (shadow and canary)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.managers.database import Database
from core.access import Action, Actor, checks
from core.adapters.errors import AdapterError
from core.adapters.predictor import Predictor
from core.shadow.canary import CanarySetting, canary_share, set_canary_share
from core.shadow.compare import LiveComparison, compare


class ShadowManager:
    """Reads the pairs of predictions the API logged (the answer and the other model's) and
    sets the canary share the API workers read."""

    def __init__(
        self, database: Database, predictor: Predictor | None = None, default_canary: float = 0.0
    ) -> None:
        self._db = database
        self._predictor = predictor
        self._default_canary = default_canary  # RAKUTEN_CANARY_SHARE

    def comparison(self, hours: float, challenger_version: int | None = None) -> LiveComparison:
        """The champion against ``challenger_version`` (default: the latest challenger seen) over
        the last ``hours``."""
        since = datetime.now(UTC) - timedelta(hours=hours)
        return self._db.read(
            lambda conn: compare(conn, since=since, challenger_version=challenger_version)
        )

    def canary(self) -> CanarySetting:
        """The share of live requests the challenger answers now."""
        return self._db.read(lambda conn: canary_share(conn, self._default_canary))

    @checks(Action.SET_CANARY)
    def set_canary(self, share: float, actor: Actor) -> str:
        """Give the challenger ``share`` of live requests (0 ends the canary), and have the API
        apply it now; returns what happened, in one sentence."""
        self._db.write(lambda engine: set_canary_share(engine, share, actor))
        said = f"Canary set to {share:.0%} of live requests" if share else "Canary off"
        if self._predictor is None:
            return f"{said}: the API applies it at its next check."
        try:
            self._predictor.reload(wait=False)  # every worker re-reads the share at once
        except AdapterError as exc:
            return f"{said}; the API did not hear it ({exc}) and applies it at its next check."
        return f"{said}: the API applies it now."
