"""ShadowManager: the challenger against the champion on live traffic (shadow and canary)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.managers.database import Database
from core.shadow.compare import LiveComparison, compare, live_verdict


class ShadowManager:
    """Reads the pairs of predictions the API logged (the answer and the other model's)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def comparison(
        self, hours: float, challenger_version: int | None = None, *, now: datetime | None = None
    ) -> LiveComparison:
        """The champion against ``challenger_version`` (default: the latest challenger seen) over
        the last ``hours``."""
        since = (now or datetime.now(UTC)) - timedelta(hours=hours)
        return self._db.read(
            lambda conn: compare(conn, since=since, challenger_version=challenger_version)
        )

    def live_verdict(self, version: int, hours: float) -> tuple[bool, str]:
        """Whether the live evidence on ``version`` (as challenger) supports promoting it."""
        return live_verdict(self.comparison(hours, version))
