"""The inference-log writer's health: failures, back-off, what was lost and why.

One object keeps it, so ``/health``, ``/metrics`` and the logs tell the same story: ``ok`` while
writes go through, ``retrying`` after a failed write (queued rows are kept and retried with a
capped exponential back-off), ``failing`` once the failures have lasted ``failing_after`` seconds
(queued rows then go to the spool file as well). Rows that will never be written are counted by
reason and logged by request id, never with their text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from api.metrics import ApiMetrics
from core.inference_log import InferenceRecord

log = logging.getLogger("api.writer")

State = Literal["ok", "retrying", "failing"]
STATES: tuple[State, ...] = ("ok", "retrying", "failing")
LOG_EVERY_S = 10.0  # per drop reason: a flood of bad rows must not flood the log


@dataclass(frozen=True)
class WriterStatus:
    """What ``/health`` says about the inference log."""

    state: State
    failing_since: datetime | None
    last_write: datetime | None
    last_error: str | None
    queue_rows: int
    queue_bytes: int
    spool_bytes: int
    retries: int
    spooled_rows: int
    dropped: dict[str, int]


class WriterHealth:
    """Failures, back-off and losses of one writer; thread-safe."""

    def __init__(
        self, metrics: ApiMetrics, *, retry_seconds: tuple[float, float], failing_after: float
    ) -> None:
        self._metrics = metrics
        self._first_retry, self._max_retry = retry_seconds
        self._failing_after = failing_after
        self._lock = threading.Lock()
        self._failures = 0
        self._failing_since: float | None = None  # monotonic
        self._failing_since_at: datetime | None = None
        self._next_attempt = 0.0
        self._last_error: str | None = None
        self._last_write: datetime | None = None
        self._retries = 0
        self._spooled = 0
        self._dropped: Counter[str] = Counter()
        self._logged_at: dict[str, float] = {}
        self._unlogged: Counter[str] = Counter()
        self._publish("ok")

    @property
    def ok(self) -> bool:
        """No failure since the last successful write."""
        return self._failures == 0

    def due(self) -> bool:
        """Whether a write may be tried now (always, unless backing off after a failure)."""
        return self._failures == 0 or time.monotonic() >= self._next_attempt

    def failing_long(self) -> bool:
        """Whether the failures have lasted long enough to spill queued rows to the spool."""
        since = self._failing_since
        return since is not None and time.monotonic() - since >= self._failing_after

    def failed(self, error: str, rows: int) -> None:
        """A write of ``rows`` rows failed for a reason worth retrying (``error``: one line)."""
        with self._lock:
            self._failures += 1
            self._retries += 1
            delay = min(self._max_retry, self._first_retry * 2 ** min(self._failures - 1, 20))
            self._next_attempt = time.monotonic() + delay
            self._last_error = error
            first = self._failing_since is None
            if first:
                self._failing_since = time.monotonic()
                self._failing_since_at = datetime.now(UTC)
        self._metrics.log_failures.inc(rows)
        self._metrics.log_retries.inc()
        if first and rows:  # one line per outage, not one per attempt
            log.warning(
                "inference log: cannot write %d row(s) (%s); keeping them and retrying",
                rows,
                error,
            )
        elif first:
            log.warning("inference log: the database is not reachable (%s); retrying", error)
        self._publish(self.state())

    def wrote(self, rows: int) -> None:
        """``rows`` rows were committed (or were in the log already)."""
        now = datetime.now(UTC)
        with self._lock:
            recovered = self._failing_since is not None
            outage = time.monotonic() - self._failing_since if self._failing_since else 0.0
            attempts = self._failures
            self._failures, self._failing_since, self._failing_since_at = 0, None, None
            self._last_error = None
            if rows:
                self._last_write = now
        if rows:
            self._metrics.log_written.inc(rows)
            self._metrics.log_last_write.set(now.timestamp())
        if recovered:
            log.info(
                "inference log: writing again after %.1f s (%d failed attempts)", outage, attempts
            )
        self._publish("ok")

    def spooled(self, rows: int) -> None:
        """``rows`` rows went to the spool file."""
        with self._lock:
            self._spooled += rows
        self._metrics.log_spooled.inc(rows)

    def dropped(
        self,
        records: Sequence[InferenceRecord],
        reason: str,
        detail: str,
        count: int | None = None,
    ) -> None:
        """Rows that will never be written: count them under ``reason``, log their ids.

        ``count`` defaults to ``len(records)``; give it when the rows are not records any more
        (unreadable spool lines).
        """
        count = len(records) if count is None else count
        if not count:
            return
        now = time.monotonic()
        with self._lock:
            self._dropped[reason] += count
            due = now - self._logged_at.get(reason, -LOG_EVERY_S) >= LOG_EVERY_S
            if due:
                self._logged_at[reason] = now
                earlier, self._unlogged[reason] = self._unlogged[reason], 0
            else:
                self._unlogged[reason] += count
        self._metrics.log_dropped.labels(reason).inc(count)
        if due:
            ids = ", ".join(r.request_id for r in records[:5])
            more = f" and {len(records) - 5} more" if len(records) > 5 else ""
            since = f" ({earlier} more since the last such line)" if earlier else ""
            log.warning(
                "inference log: dropped %d row(s) (%s: %s)%s%s%s",
                count,
                reason,
                detail,
                f": {ids}" if ids else "",
                more,
                since,
            )

    def state(self) -> State:
        """ok, retrying or failing (see the module docstring)."""
        if self._failing_since is None:
            return "ok"
        return "failing" if self.failing_long() else "retrying"

    def status(self, queue_rows: int, queue_bytes: int, spool_bytes: int) -> WriterStatus:
        """Everything ``/health`` shows, with the queue and spool sizes given."""
        state = self.state()
        self._publish(state)
        with self._lock:
            return WriterStatus(
                state=state,
                failing_since=self._failing_since_at,
                last_write=self._last_write,
                last_error=self._last_error,
                queue_rows=queue_rows,
                queue_bytes=queue_bytes,
                spool_bytes=spool_bytes,
                retries=self._retries,
                spooled_rows=self._spooled,
                dropped=dict(self._dropped),
            )

    def _publish(self, state: State) -> None:
        for name in STATES:
            self._metrics.log_state.labels(name).set(1 if name == state else 0)
        since = self._failing_since_at
        self._metrics.log_failing_since.set(since.timestamp() if since else 0)
