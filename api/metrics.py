"""Prometheus metrics of the API, on a registry of its own (one per app, so tests never collide).

Request counts and latency are recorded by :class:`MetricsMiddleware`, a plain ASGI middleware
(cheaper on the hot path than Starlette's ``BaseHTTPMiddleware``), labelled by route template so
that random URLs cannot blow up the label space.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

disable_created_metrics()  # the *_created series only double the size of every scrape

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
UNMATCHED = "unmatched"


class ApiMetrics:
    """Every series the API exports; the Grafana dashboard reads these names."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
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
            "rakuten_api_model_version", "Registry version being served (0: none)", registry=r
        )
        self.model_info = Gauge(
            "rakuten_api_model_info",
            "The served model (value 1), by name, version and run",
            ["name", "version", "run_id"],
            registry=r,
        )
        self.model_loaded = Gauge(
            "rakuten_api_model_loaded",
            "1 when a model is loaded and predictions are served",
            registry=r,
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
            "rakuten_api_inference_log_queue_rows", "Predictions waiting to be written", registry=r
        )
        self._inference_log_writer(r)

    def _inference_log_writer(self, r: CollectorRegistry) -> None:
        self.log_queue_bytes = Gauge(
            "rakuten_api_inference_log_queue_bytes",
            "Memory held by the predictions waiting to be written (bounded)",
            registry=r,
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
        )
        self.log_last_write = Gauge(
            "rakuten_api_inference_log_last_write_timestamp_seconds",
            "When the inference log was last written (Unix time; 0: not yet)",
            registry=r,
        )
        self.log_failing_since = Gauge(
            "rakuten_api_inference_log_failing_since_timestamp_seconds",
            "When the current run of failed writes began (Unix time; 0: writing fine)",
            registry=r,
        )
        self.log_state = Gauge(
            "rakuten_api_inference_log_state",
            "The inference-log writer's state (1 for the current one): ok, retrying, failing",
            ["state"],
            registry=r,
        )

    def serving(self, name: str, version: int, run_id: str) -> None:
        """Record that ``version`` is now the served model."""
        self.model_info.clear()
        self.model_info.labels(name, str(version), run_id).set(1)
        self.model_version.set(version)
        self.model_loaded.set(1)


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
