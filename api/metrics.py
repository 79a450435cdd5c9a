"""Prometheus metrics of the API, on a registry of its own (one per app, so tests never collide).

Request counts and latency are recorded by :class:`MetricsMiddleware`, a plain ASGI middleware
(cheaper on the hot path than Starlette's ``BaseHTTPMiddleware``), labelled by route template so
that random URLs cannot blow up the label space.

Served from several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set, see ``api.workers``), each
worker writes its series to files there and ``/metrics``, whichever worker answers it, reads them
all: counters and histograms are summed, and each gauge says how its workers' values combine
(``multiprocess_mode``; ``live…`` modes leave out workers that died).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.processes import alive

disable_created_metrics()  # the *_created series only double the size of every scrape

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
UNMATCHED = "unmatched"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


class ApiMetrics:
    """Every series the API exports; the Grafana dashboard reads these names."""

    def __init__(self) -> None:
        r = self._own = CollectorRegistry()  # this process's series
        self._functions: list[tuple[Gauge, Callable[[], float]]] = []
        self._served: set[tuple[str, str, str]] = set()  # model_info label sets set so far
        shared = os.environ.get(MULTIPROC_ENV)
        #: What /metrics exposes: this process's series, or every worker's when there are several.
        self.registry = r if not shared else _workers_registry(Path(shared), self.refresh)
        self.requests = Counter(
            "rakuten_api_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "rakuten_api_request_duration_seconds",
            "Request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "rakuten_api_predictions",
            "Predicted products by class",
            ["code", "category"],
            registry=r,
        )
        self.batch_size = Histogram(
            "rakuten_api_microbatch_size",
            "Single predictions answered by one model call",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.model_version = Gauge(
            "rakuten_api_model_version",
            "Registry version being served (0: none); with several workers, the latest loaded",
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.model_info = Gauge(
            "rakuten_api_model_info",
            "The served model (value 1; 0: served before), by name, version and run",
            ["name", "version", "run_id"],
            registry=r,
            multiprocess_mode="livemax",  # 1 while any worker serves it
        )
        self.model_loaded = Gauge(
            "rakuten_api_model_loaded",
            "1 when a model is loaded and predictions are served (by every worker)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.reloads = Counter(
            "rakuten_api_model_reloads",
            "Model loads by outcome (loaded, failed)",
            ["outcome"],
            registry=r,
        )
        self.log_written = Counter(
            "rakuten_api_inference_log_rows_written",
            "Predictions written to the inference log",
            registry=r,
        )
        self.log_failures = Counter(
            "rakuten_api_inference_log_write_failures",
            "Predictions in inference-log writes that failed (each failed attempt counts its "
            "rows; they are retried, not lost: lost rows are in ..._dropped_rows_total)",
            registry=r,
        )
        self.log_queue = Gauge(
            "rakuten_api_inference_log_queue_rows",
            "Predictions waiting to be written",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._inference_log_writer(r)
        self._shadow(r)

    def _inference_log_writer(self, r: CollectorRegistry) -> None:
        self.log_queue_bytes = Gauge(
            "rakuten_api_inference_log_queue_bytes",
            "Memory held by the predictions waiting to be written (bounded)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.log_dropped = Counter(
            "rakuten_api_inference_log_dropped_rows",
            "Predictions that will never reach the inference log, by reason",
            ["reason"],
            registry=r,
        )
        self.log_retries = Counter(
            "rakuten_api_inference_log_retries",
            "Failed inference-log writes, each retried with back-off",
            registry=r,
        )
        self.log_spooled = Counter(
            "rakuten_api_inference_log_spooled_rows",
            "Predictions spilled to the spool file (buffer full, database down, or shutdown)",
            registry=r,
        )
        self.log_replayed = Counter(
            "rakuten_api_inference_log_replayed_rows",
            "Predictions replayed from the spool file into the inference log",
            registry=r,
        )
        self.log_spool_bytes = Gauge(
            "rakuten_api_inference_log_spool_bytes",
            "Size of the spool files waiting for replay",
            registry=r,
            multiprocess_mode="livemax",  # every worker sees the same folder
        )
        self.log_last_write = Gauge(
            "rakuten_api_inference_log_last_write_timestamp_seconds",
            "When the inference log was last written (Unix time; 0: not yet)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.log_failing_since = Gauge(
            "rakuten_api_inference_log_failing_since_timestamp_seconds",
            "When the current run of failed writes began (Unix time; 0: writing fine)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.log_state = Gauge(
            "rakuten_api_inference_log_state",
            "The inference-log writer's state (1 for the current one; with several workers, for "
            "a state any of them is in): ok, retrying, failing",
            ["state"],
            registry=r,
            multiprocess_mode="livemax",
        )

    def _shadow(self, r: CollectorRegistry) -> None:
        self.shadow_version = Gauge(
            "rakuten_api_shadow_version",
            "Challenger version scored in shadow (0: none); with several workers, the latest",
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.shadow_predictions = Counter(
            "rakuten_api_shadow_predictions",
            "Requests the challenger scored in shadow, by agreement with the champion's answer",
            ["agreement"],  # agree | disagree
            registry=r,
        )
        self.shadow_dropped = Counter(
            "rakuten_api_shadow_dropped",
            "Requests sampled for shadow scoring that never reached shadow_predictions, by reason",
            ["reason"],  # queue_full | write_failed | scoring_failed | no_challenger | shutdown
            registry=r,
        )
        self.canary_answers = Counter(
            "rakuten_api_canary_answers",
            "Requests answered by the challenger (the canary share) instead of the champion",
            registry=r,
        )
        self.shadow_queue = Gauge(
            "rakuten_api_shadow_queue_rows",
            "Requests waiting to be scored by the challenger (bounded)",
            registry=r,
            multiprocess_mode="livesum",
        )

    def serving(self, name: str, version: int, run_id: str) -> None:
        """Record that ``version`` is now the served model."""
        labels = (name, str(version), run_id)
        if self.registry is self._own:
            self.model_info.clear()
        else:  # a worker's files keep what was cleared: the versions it left say 0 instead
            for left in self._served - {labels}:
                self.model_info.labels(*left).set(0)
            self._served.add(labels)
        self.model_info.labels(*labels).set(1)
        self.model_version.set(version)
        self.model_loaded.set(1)

    def track(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Make ``gauge`` show ``read()`` at each scrape (and, with several workers, at refresh)."""
        if self.registry is self._own:
            gauge.set_function(read)
        else:  # other workers read this one's files: its values are written there
            self._functions.append((gauge, read))
            gauge.set(read())

    def refresh(self) -> None:
        """Write the tracked gauges' current values (several workers: called by the writer)."""
        for gauge, read in self._functions:
            gauge.set(read())


def _workers_registry(directory: Path, refresh: Callable[[], None]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_WorkersCollector(directory, refresh))
    return registry


class _WorkersCollector:
    """Every worker's series from the multiprocess files, this worker's gauges fresh first."""

    def __init__(self, directory: Path, refresh: Callable[[], None]) -> None:
        self._directory = directory
        self._refresh = refresh
        self._files = MultiProcessCollector(None, path=str(directory))

    def collect(self) -> Iterable[Metric]:
        self._refresh()
        _forget_dead_workers(self._directory)
        return self._files.collect()


def _forget_dead_workers(directory: Path) -> None:
    # uvicorn replaces a worker that dies but tells no one: its live gauges would count forever.
    for path in directory.glob("gauge_live*.db"):
        found = LIVE_GAUGE_FILE.fullmatch(path.name)
        if found and not alive(int(found.group(1))):
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(int(found.group(1)), str(directory))


class MetricsMiddleware:
    """Counts every HTTP request by route template, method and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client sees if the app dies before answering

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            endpoint = _route_of(scope)
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    return getattr(route, "path", UNMATCHED)
