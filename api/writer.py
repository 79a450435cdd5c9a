"""Writes the inference log off the request path, and loses nothing it can keep.

Requests only append records to an in-memory buffer bounded in bytes; a background thread writes
it in batches every ``flush_seconds``. What can go wrong, and what happens then:

- **One row the database refuses** (a NUL character, a value a column cannot hold): the batch is
  split and retried in halves until the row is alone; that row is dropped, counted under its
  reason and logged by request id, never with its text. The others land.
- **The database is unreachable, stalls or black-holes the connection**: every write has a
  deadline (statement timeout, busy timeout, and a watchdog that aborts a connection that stopped
  answering), the batch is kept and retried with capped back-off. Rows are written at most once
  by request id, so a batch whose commit did land before the connection died is not duplicated.
- **The buffer is full, or the database has been failing for ``failing_after`` seconds**: rows
  are spilled to the spool file (``core.inference_spool``), replayed once writes work again and at
  the next start.
- **The API stops**: what is queued is written within the stop timeout; the rest is spilled, and
  so is anything submitted later. Rows are dropped only when even the spool cannot take them.

``/health`` and ``/metrics`` show the state (see ``api.writer_state``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable

from sqlalchemy import Engine

from api.metrics import ApiMetrics
from api.writer_state import WriterHealth, WriterStatus
from core.db.engine import ensure_schema
from core.db.errors import describe_error, is_data_error
from core.db.watchdog import ConnectionWatchdog
from core.inference_log import InferenceRecord, unstorable_text, write_records
from core.inference_spool import Spool, SpoolFull
from core.settings import Settings

log = logging.getLogger("api.writer")

RECORD_OVERHEAD = 400  # bytes of a record besides its two texts (object, id, time, numbers)


class _Retry(Exception):
    """A write failed for a reason worth retrying (the database, not the data)."""


class InferenceLogWriter:
    """Buffered, batched, retrying writer of :class:`InferenceRecord` rows (see the module doc)."""

    def __init__(
        self,
        engine: Engine,
        metrics: ApiMetrics,
        *,
        spool: Spool | None = None,
        flush_seconds: float = 0.25,
        batch_rows: int = 500,
        batch_bytes: int = 4 << 20,
        max_buffer_bytes: int = 64 << 20,
        write_timeout: float = 10.0,
        retry_seconds: tuple[float, float] = (0.5, 10.0),
        failing_after: float = 30.0,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._spool = spool
        self._flush_seconds = flush_seconds
        self._batch_rows = batch_rows
        self._batch_bytes = batch_bytes
        self._max_bytes = max_buffer_bytes
        self._write_timeout = write_timeout
        self._watchdog = ConnectionWatchdog(engine)
        self._health = WriterHealth(
            metrics, retry_seconds=retry_seconds, failing_after=failing_after
        )
        self._lock = threading.Lock()  # guards the buffer, its byte count and _stopped
        self._buffer: deque[tuple[InferenceRecord, int]] = deque()
        self._bytes = 0  # of the buffer and of the batch in hand
        self._in_hand: list[InferenceRecord] = []  # taken from the buffer, not written yet
        self._in_hand_bytes = 0
        self._stopped = False
        self._stop_by = float("inf")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        metrics.track(metrics.log_queue, lambda: len(self._buffer) + len(self._in_hand))
        metrics.track(metrics.log_queue_bytes, lambda: self._bytes)
        metrics.track(metrics.log_spool_bytes, lambda: spool.size() if spool else 0)

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, metrics: ApiMetrics, *, flush_seconds: float
    ) -> InferenceLogWriter:
        """The API's writer: limits from ``settings``, spool under ``<var_dir>/spool``."""
        return cls(
            engine,
            metrics,
            flush_seconds=flush_seconds,
            spool=Spool(settings.var_dir / "spool", max_bytes=settings.inference_log_spool_bytes),
            max_buffer_bytes=settings.inference_log_buffer_bytes,
            write_timeout=settings.inference_log_write_timeout,
        )

    def submit(self, records: Iterable[InferenceRecord]) -> None:
        """Queue records for writing; never raises.

        Past the byte bound (or after :meth:`stop`) records go straight to the spool file: an
        append to the page cache, the one case where a request does a little I/O.
        """
        overflow = []
        with self._lock:
            stopped = self._stopped
            for record in records:
                size = _size(record)
                if stopped or self._bytes + size > self._max_bytes:
                    overflow.append(record)
                else:
                    self._buffer.append((record, size))
                    self._bytes += size
        if overflow:
            self._spill(overflow, reason="buffer_full")
        if stopped and self._spool is not None:
            self._spool.close()  # nothing will seal it later: the next start must replay it

    def start(self) -> None:
        """Start the background thread (its first round replays the spool)."""
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued within ``timeout`` seconds, spill the rest, stop the thread."""
        self._stop_by = time.monotonic() + timeout * 0.8  # the last batch may still be running
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("inference log: a write is still hanging; spilling what is queued")
        with self._lock:
            self._stopped = True  # from now on, submit() spills
        self._spill_queued()
        if self._spool is not None:
            self._spool.close()

    def flush(self) -> None:
        """Write everything queued now, ignoring any back-off (also called by the thread)."""
        try:
            self._write_queued()
        except _Retry as exc:
            self._health.failed(str(exc), len(self._in_hand))

    def status(self) -> WriterStatus:
        """The writer's state, as ``/health`` shows it."""
        return self._health.status(
            queue_rows=len(self._buffer) + len(self._in_hand),
            queue_bytes=self._bytes,
            spool_bytes=self._spool.size() if self._spool else 0,
        )

    def _run(self) -> None:
        try:  # early, so readers find the table; a failure here is retried like any write
            self._probe()
        except _Retry as exc:
            self._health.failed(str(exc), 0)
        while not self._stopping.is_set():
            self._cycle()
            self._metrics.refresh()  # with several workers, the others' scrapes read these
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
        if self._health.ok:  # with the database failing, stop() spills at once
            self.flush()

    def _cycle(self) -> None:
        if not self._health.due():
            if self._spool is not None and self._health.failing_long():
                self._spill_queued()  # durable while the outage lasts
            return
        try:
            self._write_queued()
            self._replay_spool()
            if not self._health.ok:
                self._probe()  # nothing was queued: is the database back?
        except _Retry as exc:
            self._health.failed(str(exc), len(self._in_hand))
            if self._spool is not None and self._health.failing_long():
                self._spill_queued()

    def _probe(self) -> None:
        self._schema_ready = False
        self._ensure_schema()
        self._health.wrote(0)

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        try:
            with self._watchdog.deadline(self._write_timeout):
                ensure_schema(self._engine)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the rows wait for the next try
            raise _Retry(describe_error(exc)) from exc
        self._schema_ready = True

    def _write_queued(self) -> None:
        while not (self._stopping.is_set() and time.monotonic() >= self._stop_by):
            if not self._in_hand:
                with self._lock:
                    self._take_batch()
                if not self._in_hand:
                    return
            self._write_batch(self._in_hand)
            with self._lock:
                self._bytes -= self._in_hand_bytes
                self._in_hand, self._in_hand_bytes = [], 0

    def _take_batch(self) -> None:
        """Move the next batch from the buffer to the hand (the caller holds the lock)."""
        batch: list[InferenceRecord] = []
        size = 0
        while self._buffer and len(batch) < self._batch_rows and size < self._batch_bytes:
            record, record_size = self._buffer.popleft()
            batch.append(record)
            size += record_size
        self._in_hand, self._in_hand_bytes = batch, size

    def _write_batch(self, batch: list[InferenceRecord]) -> None:
        """Write ``batch``, isolating refused rows; rows done (written or dropped) leave it."""
        done: list[InferenceRecord] = []
        try:
            storable = []
            for record in batch:
                reason = unstorable_text(record)
                if reason is None:
                    storable.append(record)
                else:
                    self._health.dropped([record], "unstorable_text", reason)
                    done.append(record)
            self._insert(storable, done)
        finally:
            if done:  # a retry after a failure part-way sends only what is left
                finished = {id(record) for record in done}
                batch[:] = [record for record in batch if id(record) not in finished]

    def _insert(self, rows: list[InferenceRecord], done: list[InferenceRecord]) -> None:
        if not rows:
            return
        self._ensure_schema()
        try:
            with self._watchdog.deadline(self._write_timeout):
                write_records(self._engine, rows)
        except Exception as exc:  # noqa: BLE001 - classified: data errors isolated, others retried
            if not is_data_error(exc):
                raise _Retry(describe_error(exc)) from exc
            if len(rows) == 1:
                self._health.dropped(rows, "refused_by_database", describe_error(exc))
                done.extend(rows)
                return
            half = len(rows) // 2  # bisect: a lone bad row costs about 2 log2(n) writes
            self._insert(rows[:half], done)
            self._insert(rows[half:], done)
            return
        done.extend(rows)
        self._health.wrote(len(rows))

    def _replay_spool(self) -> None:
        if self._spool is None or not self._spool.size():
            return
        for path in self._spool.files():
            replayed = self._spool.replay(
                path,
                self._write_batch,
                batch_rows=self._batch_rows,
                batch_bytes=self._batch_bytes,
            )
            if replayed is None:
                continue  # gone, or another process is appending to it
            self._metrics.log_replayed.inc(replayed.rows)
            log.info("inference log: replayed %d rows from %s", replayed.rows, path.name)
            if replayed.unreadable:
                detail = f"lines of {path.name} that are not a record (a write cut short)"
                self._health.dropped([], "spool_unreadable", detail, count=replayed.unreadable)
            self._write_queued()  # the buffer must not wait for a long replay

    def _spill_queued(self) -> None:
        """Move the batch in hand and the buffer to the spool (without one: count as dropped)."""
        while True:
            with self._lock:
                if not self._in_hand:
                    self._take_batch()
                batch, self._in_hand = self._in_hand, []
                self._bytes -= self._in_hand_bytes
                self._in_hand_bytes = 0
            if not batch:
                return
            self._spill(batch, reason="no_spool")

    def _spill(self, records: list[InferenceRecord], *, reason: str) -> None:
        """Append to the spool; without one, drop under ``reason``."""
        if self._spool is None:
            self._health.dropped(records, reason, "no spool file is configured")
            return
        try:
            self._spool.append(records)
        except SpoolFull as exc:
            self._health.dropped(records, "spool_full", str(exc))
        except OSError as exc:
            self._health.dropped(records, "spool_error", f"{exc.__class__.__name__}: {exc}")
        else:
            self._health.spooled(len(records))


def _size(record: InferenceRecord) -> int:
    # Memory actually held (CPython: 1, 2 or 4 bytes a character), cheap to compute.
    return sys.getsizeof(record.designation) + sys.getsizeof(record.description) + RECORD_OVERHEAD
