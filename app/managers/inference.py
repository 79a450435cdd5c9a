"""InferenceManager: the inference log and the feedback given on it."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import pandas as pd

from app.managers.database import Database
from app.managers.errors import Rejected, permission_errors
from core import inference_log
from core.access import Action, Actor, audited, checks
from core.inference_log import FeedbackAccuracy

log = logging.getLogger(__name__)


class InferenceManager:
    """Reads the predictions the API logged and records feedback on them."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def predictions(
        self,
        *,
        code: int | None = None,
        search: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> pd.DataFrame:
        """The inference log, newest first, with the true category and who marked it."""
        return self._db.read(
            lambda conn: inference_log.history(
                conn, code=code, search=search, since=since, until=until, limit=limit
            )
        )

    def wait_until_logged(self, request_id: str, timeout: float = 1.5) -> bool:
        """Wait (briefly) for the API's buffered write of a prediction; False if it is not there.

        The page calls this after a prediction, so that the history it shows includes it.
        """
        deadline = time.monotonic() + timeout
        while not self._db.read(lambda conn: inference_log.is_logged(conn, request_id)):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def feedback_accuracy(self, since: datetime | None = None) -> FeedbackAccuracy:
        """Live accuracy from the feedback given so far."""
        return self._db.read(lambda conn: inference_log.feedback_accuracy(conn, since=since))

    @checks(Action.FEEDBACK)
    def record_feedback(self, request_id: str, true_code: int, actor: Actor) -> None:
        """Mark a prediction's true category as ``actor`` (replaces an earlier mark); audited."""
        audit = self._db.audit_log()
        params = {"true_code": true_code}
        try:
            with (
                permission_errors(),
                audited(audit, actor, Action.FEEDBACK, target=request_id[:64], params=params),
            ):
                self._db.write(
                    lambda engine: inference_log.record_feedback(
                        engine, request_id, true_code, actor
                    )
                )
        except ValueError as exc:
            raise Rejected(str(exc)) from exc
        log.info("%s marked %s as %s", actor.label, request_id, true_code)  # also in audit_log

    def prediction_count(self, since: datetime | None = None) -> int:
        """How many predictions the inference log holds (since a time)."""
        return self._db.read(lambda conn: inference_log.prediction_count(conn, since))
