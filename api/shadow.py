"""Scores a share of the live requests with the challenger, off the request path.

After the champion answered and the request was recorded, :meth:`Shadow.offer` hands the
request's products (request id, texts, the champion's answer) to a bounded queue — a few appends
under a lock: it never waits, and when the queue is full the products are dropped and counted. One
background thread scores them with the challenger one product at a time (``latency_ms`` is that
product's own scoring time) and writes the :class:`~core.shadow.records.ShadowRecord` rows in
batches, keyed by the inference-log row's request id. Each of those steps starts only once no
request has been in flight for a moment (:mod:`api.activity`), so live requests do not queue
behind shadow work; under a load that never pauses, the queue fills and sheds instead. The answer
never depends on any of it: its bytes are the same with shadow scoring on or off.

Writes are best effort: a batch the database refuses, or a write that fails (its own engine has
a short deadline), is dropped, counted and said in ``last_error``; the inference log is
:mod:`api.writer`'s and keeps its own guarantees. At shutdown the rows already scored get one
write (bounded by that deadline); products still queued are dropped, and the log says how many.

Each worker process has its own shadow, as it has its own writer.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from api.activity import Activity
from api.challenger import ChallengerFollower
from api.metrics import ApiMetrics
from api.model import Ranked, ServedModel
from api.schemas import Product
from core.db.engine import ensure_schema
from core.db.errors import describe_error
from core.registry import CHALLENGER
from core.shadow.records import ShadowRecord, write_shadow_records

log = logging.getLogger("api.shadow")

WRITE_TIMEOUT = 2.0  # seconds: the shadow's engine gives up on a write after this
QUIET_SECONDS = 0.002  # shadow work starts only after the API has been idle this long
HANDOFF_SECONDS = 0.0002  # a pause after each step, for a request that came meanwhile
ITEM_OVERHEAD = 300  # bytes of a queued product besides its two texts
DROP_REASONS = ("queue_full", "write_failed", "scoring_failed", "no_challenger", "shutdown")


@dataclass(frozen=True, slots=True)
class _Item:
    request_id: str
    designation: str
    description: str
    champion_version: int  # of the model that answered (the challenger, for a canary answer)
    champion_code: int
    other: str  # the alias of the model that scores it: challenger, or champion for a canary


@dataclass(frozen=True)
class ShadowStatus:
    """What ``/health`` says about the shadow."""

    challenger: int | None
    share: float
    queued: int
    scored: int
    written: int
    dropped: dict[str, int]
    last_error: str | None
    idle_reason: str | None


class Shadow:
    """The challenger's shadow scoring of one API process (see the module doc)."""

    def __init__(
        self,
        challenger: ChallengerFollower,
        engine: Engine,
        metrics: ApiMetrics,
        *,
        share: float,
        max_queue: int = 1000,
        max_queue_bytes: int = 16 << 20,
        batch_rows: int = 50,  # a write of 50 rows holds the interpreter for about 0.5 ms
        flush_seconds: float = 0.5,
        sample: Callable[[], float] = random.random,
        activity: Activity | None = None,
    ) -> None:
        self.challenger = challenger
        self.share = share
        self.engine = engine
        self._metrics = metrics
        self._max_queue, self._max_bytes = max_queue, max_queue_bytes
        self._batch_rows, self._flush_seconds = batch_rows, flush_seconds
        self._sample = sample
        self._activity = activity or Activity()  # by default: nothing to yield to
        self._lock = threading.Lock()  # guards the queue, its byte count and _stopped
        self._queue: deque[tuple[_Item, int]] = deque()
        self._bytes = 0
        self._stopped = False
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        self._scored = self._written = 0
        self._dropped: Counter[str] = Counter()
        self._last_error: str | None = None
        for reason in DROP_REASONS:  # every series exists from the start, at 0
            metrics.shadow_dropped.labels(reason)
        for agreement in ("agree", "disagree"):
            metrics.shadow_predictions.labels(agreement)
        metrics.track(metrics.shadow_queue, lambda: len(self._queue))

    def check(self, needed: bool = False) -> bool:
        """Follow the challenger alias (in the champion's check cycle); whether it changed.
        ``needed``: a canary answers with the challenger, shadow scoring or not."""
        if self.share <= 0 and not needed:
            self.challenger.idle_reason = "shadow scoring is off (RAKUTEN_SHADOW_SHARE=0)"
            return False
        return self.challenger.check()

    def offer(
        self,
        model: ServedModel,
        products: Sequence[Product],
        ranked: Sequence[list[Ranked]],
        ids: Sequence[str],
        other: str = CHALLENGER,
    ) -> None:
        """Queue the share of these answered products the ``other`` model scores (the
        challenger; the champion when the challenger answered a canary's share); never blocks."""
        scorer = self._model(other)
        if scorer is None or scorer.version == model.version or self.share <= 0:
            return
        every = self.share >= 1
        items = [
            _Item(request_id, p.designation, p.description or "", model.version, r[0].code, other)
            for request_id, p, r in zip(ids, products, ranked, strict=True)
            if every or self._sample() < self.share
        ]
        if not items:
            return
        full = 0
        with self._lock:
            stopped = self._stopped
            for item in items:
                size = sys.getsizeof(item.designation) + sys.getsizeof(item.description)
                size += ITEM_OVERHEAD
                too_many = len(self._queue) >= self._max_queue
                if stopped or too_many or self._bytes + size > self._max_bytes:
                    full += 1
                else:
                    self._queue.append((item, size))
                    self._bytes += size
        if full:
            self._drop("shutdown" if stopped else "queue_full", full)
        self._wake.set()

    def start(self) -> None:
        """Start the scoring thread."""
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = WRITE_TIMEOUT + 1.0) -> None:
        """Stop scoring; what is scored is written if the database answers within ``timeout``."""
        with self._lock:
            self._stopped = True
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning(
                    "shadow: the last write did not finish within %.1f s; its rows are dropped",
                    timeout,
                )

    def status(self) -> ShadowStatus:
        """The shadow's state, as ``/health`` shows it."""
        current = self.challenger.current
        with self._lock:
            dropped = {reason: self._dropped[reason] for reason in DROP_REASONS}
        return ShadowStatus(
            challenger=current.version if current is not None else None,
            share=self.share,
            queued=len(self._queue),
            scored=self._scored,
            written=self._written,
            dropped=dropped,
            last_error=self._last_error or self.challenger.last_error,
            idle_reason=self.challenger.idle_reason,
        )

    def _run(self) -> None:
        pending: list[ShadowRecord] = []
        due = float("inf")  # when the oldest pending row must be written
        # Each step (one product scored, or one batch written) waits for the API to be quiet.
        while self._yield_to_requests():
            if pending and (len(pending) >= self._batch_rows or time.monotonic() >= due):
                self._write(pending)
                pending = []
                continue
            item = self._take()
            if item is None:
                self._wake.wait(
                    self._flush_seconds if not pending else max(0, due - time.monotonic())
                )
                self._wake.clear()  # the queue is looked at again before the next wait
                continue
            record = self._score(item)
            if record is not None:
                if not pending:
                    due = time.monotonic() + self._flush_seconds
                pending.append(record)
        self._finish(pending)

    def _yield_to_requests(self) -> bool:
        """Wait until the API has been quiet for a moment (``api.activity``); ``False`` once
        stopping."""
        # First let go of the interpreter for a moment: the event loop may be waiting for it to
        # even see a request that arrived during the last step (the thread would otherwise keep
        # it until the interpreter's switch interval, 5 ms).
        time.sleep(HANDOFF_SECONDS)
        while not self._stopping.is_set():
            wait = self._activity.until_quiet(QUIET_SECONDS)
            if wait <= 0:
                return True
            time.sleep(wait)
        return False

    def _take(self) -> _Item | None:
        with self._lock:
            if not self._queue:
                return None
            item, size = self._queue.popleft()
            self._bytes -= size
            return item

    def _model(self, alias: str) -> ServedModel | None:
        return self.challenger.current if alias == CHALLENGER else self.challenger.champion.current

    def _score(self, item: _Item) -> ShadowRecord | None:
        model = self._model(item.other)  # the alias may have moved since the request
        if model is None or model.version == item.champion_version:
            self._drop("no_challenger", 1)
            return None
        start = time.perf_counter()
        try:
            best = model.rank_texts([item.designation], [item.description], 1)[0][0]
        except Exception as exc:  # noqa: BLE001 - a challenger that fails never touches an answer
            self._fail("scoring_failed", 1, f"version {model.version} cannot score: {exc}")
            return None
        latency_ms = (time.perf_counter() - start) * 1000
        agreement = "agree" if best.code == item.champion_code else "disagree"
        self._metrics.shadow_predictions.labels(agreement).inc()
        self._scored += 1
        at, version = datetime.now(UTC), model.version
        return ShadowRecord(
            item.request_id, at, version, item.other, best.code, best.probability, latency_ms
        )

    def _write(self, records: list[ShadowRecord]) -> bool:
        try:
            if not self._schema_ready:  # the inference-log writer may not have made it yet
                ensure_schema(self.engine)
                self._schema_ready = True
            write_shadow_records(self.engine, records)
        except Exception as exc:  # noqa: BLE001 - best effort: the batch is dropped, answers stay
            self._schema_ready = False
            problem = f"cannot write {len(records)} shadow predictions: {describe_error(exc)}"
            self._fail("write_failed", len(records), problem)
            return False
        if self._last_error is not None:
            log.info("shadow: writing again after: %s", self._last_error)
        self._written += len(records)
        self._last_error = None
        return True

    def _finish(self, pending: list[ShadowRecord]) -> None:
        with self._lock:
            left = len(self._queue)
            self._queue.clear()
            self._bytes = 0
        if left:
            self._drop("shutdown", left)
            log.info("shadow: %d products still queued at shutdown were not scored", left)
        if pending and not self._write(pending):  # _fail logged why, at its first failure
            log.warning("shadow: %d scored predictions dropped at shutdown", len(pending))

    def _fail(self, reason: str, count: int, problem: str) -> None:
        if self._last_error is None:  # once per run of failures, not at every batch
            log.warning("shadow: %s (dropped; shadow rows are best effort)", problem)
        self._last_error = problem
        self._drop(reason, count)

    def _drop(self, reason: str, count: int) -> None:
        with self._lock:  # from the request path (queue_full) and the thread alike
            self._dropped[reason] += count
        self._metrics.shadow_dropped.labels(reason).inc(count)
