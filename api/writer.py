"""Writes the inference log off the request path.

Requests only append records to an in-memory buffer (a ``deque``: appends and pops are atomic);
a background thread drains it in batches every ``flush_seconds``. A slow database slows only that
thread, and a failing one costs only the batch in hand: its rows are counted in
``rakuten_api_inference_log_write_failures_total`` and logged, never raised. The buffer is bounded,
so an outage cannot grow the process without limit: rows beyond it are counted as failures too.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable

from sqlalchemy import Engine

from api.metrics import ApiMetrics
from core.db.engine import ensure_schema
from core.inference_log import InferenceRecord, write_records

log = logging.getLogger("api.writer")


class InferenceLogWriter:
    """Buffered, batched, failure-counting writer of :class:`InferenceRecord` rows."""

    def __init__(
        self, engine: Engine, metrics: ApiMetrics, *, flush_seconds: float = 0.5,
        batch_size: int = 500, max_buffer: int = 100_000,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._metrics = metrics
        self._flush_seconds = flush_seconds
        self._batch_size = batch_size
        self._max_buffer = max_buffer
        self._buffer: deque[InferenceRecord] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        self._failing = False

    def submit(self, records: Iterable[InferenceRecord]) -> None:
        """Queue records for writing; never blocks and never raises."""
        for record in records:
            if len(self._buffer) >= self._max_buffer:
                self._metrics.log_failures.inc()
            else:
                self._buffer.append(record)
        self._metrics.log_queue.set(len(self._buffer))

    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is buffered (within ``timeout``) and stop the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def flush(self) -> None:
        """Write everything buffered now, batch by batch (also called by the thread)."""
        while self._buffer:
            batch = [
                self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))
            ]
            self._write(batch)
        self._metrics.log_queue.set(len(self._buffer))

    def _run(self) -> None:
        try:  # early, so readers find the table; a failure here is retried with the first write
            ensure_schema(self._engine)
            self._schema_ready = True
        except Exception as exc:  # noqa: BLE001
            log.warning("inference log: database not ready yet: %s", exc)
        while not self._stopping.is_set():
            self._wake.wait(self._flush_seconds)
            self.flush()
        self.flush()

    def _write(self, batch: list[InferenceRecord]) -> None:
        try:
            if not self._schema_ready:
                ensure_schema(self._engine)
                self._schema_ready = True
            write_records(self._engine, batch)
        except Exception as exc:  # noqa: BLE001 - counted and logged; predictions go on
            self._metrics.log_failures.inc(len(batch))
            if not self._failing:  # one line per outage, not one per batch
                log.warning("inference log: %d rows not written: %s", len(batch), exc)
            self._failing = True
            return
        if self._failing:
            log.info("inference log: writing again")
        self._failing = False
        self._metrics.log_written.inc(len(batch))
