"""Service health from the API's own Prometheus exposition (``GET /metrics``).

Counters only ever grow, so rates come from two scrapes: :func:`parse_scrape` reads one,
:func:`window_stats` compares two — request rate, error rate, p95 latency (interpolated in the
histogram's buckets, as Prometheus' ``histogram_quantile`` does) and predictions by class.
:func:`health_from_scrapes` turns a series of scrapes into the :class:`ServiceHealth` the
Monitoring page draws; Prometheus, when there is one, answers with the same record.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

PREDICT_ENDPOINTS = ("/predict", "/predict/batch")


@dataclass(frozen=True)
class Scrape:
    """The counters of one ``/metrics`` read."""

    at: datetime
    requests: dict[tuple[str, str], float] = field(default_factory=dict)  # (endpoint, status)
    buckets: dict[float, float] = field(default_factory=dict)  # predict latency: le → count
    predictions: dict[str, float] = field(default_factory=dict)  # category → count


@dataclass(frozen=True)
class WindowStats:
    """What happened between two scrapes."""

    seconds: float
    request_rate: float  # prediction requests per second
    error_rate: float  # share of them answered 5xx
    p95_ms: float | None  # None without requests
    predictions: dict[str, float]  # category → predictions in the window


@dataclass(frozen=True, slots=True)
class HealthPoint:
    """The API's prediction traffic at one moment (``None``: no value, e.g. no requests)."""

    at: datetime
    request_rate: float | None  # prediction requests per second
    p95_ms: float | None
    error_rate: float | None  # share answered 5xx


@dataclass(frozen=True)
class ServiceHealth:
    """The health series over time, and predictions by class over the whole window."""

    points: tuple[HealthPoint, ...]  # oldest first; none yet when rates cannot be taken
    predictions: dict[str, float]  # category → predictions
    prometheus_url: str | None = None  # where it was read; None: the API's own /metrics
    minutes: int | None = None  # Prometheus' window


def parse_scrape(text: str, at: datetime) -> Scrape:
    """The counters that matter for health, from Prometheus' text format."""
    requests: dict[tuple[str, str], float] = {}
    buckets: dict[float, float] = {}
    predictions: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "rakuten_api_requests_total":
                key = (labels.get("endpoint", ""), labels.get("status", ""))
                requests[key] = requests.get(key, 0.0) + sample.value
            elif (
                sample.name == "rakuten_api_request_duration_seconds_bucket"
                and labels.get("endpoint") in PREDICT_ENDPOINTS
            ):
                le = float(labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
            elif sample.name == "rakuten_api_predictions_total":
                name = labels.get("category", labels.get("code", "?"))
                predictions[name] = predictions.get(name, 0.0) + sample.value
    return Scrape(at, requests, buckets, predictions)


def window_stats(before: Scrape, after: Scrape) -> WindowStats:
    """Rates between two scrapes (a restarted API, whose counters fell, counts from zero)."""
    seconds = max((after.at - before.at).total_seconds(), 1e-9)

    def delta(old: dict, new: dict) -> dict:
        return {k: v - old.get(k, 0.0) if v >= old.get(k, 0.0) else v for k, v in new.items()}

    requests = {
        k: v for k, v in delta(before.requests, after.requests).items() if k[0] in PREDICT_ENDPOINTS
    }
    total = sum(requests.values())
    errors = sum(v for (_, status), v in requests.items() if status.startswith("5"))
    return WindowStats(
        seconds=seconds,
        request_rate=total / seconds,
        error_rate=errors / total if total else 0.0,
        p95_ms=_quantile(0.95, delta(before.buckets, after.buckets)),
        predictions={k: v for k, v in delta(before.predictions, after.predictions).items() if v},
    )


def health_from_scrapes(scrapes: Sequence[Scrape]) -> ServiceHealth:
    """Service health from consecutive reads of the API's ``/metrics``.

    Args:
        scrapes: The reads, oldest first.

    Returns:
        One point per pair of consecutive reads (at the later one), and predictions by class
        between the first and the last; no points from fewer than two reads.
    """
    if len(scrapes) < 2:
        return ServiceHealth((), {})
    points = []
    for before, after in itertools.pairwise(scrapes):
        stats = window_stats(before, after)
        points.append(HealthPoint(after.at, stats.request_rate, stats.p95_ms, stats.error_rate))
    return ServiceHealth(tuple(points), window_stats(scrapes[0], scrapes[-1]).predictions)


def _quantile(q: float, buckets: dict[float, float]) -> float | None:
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return 1000 * lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return 1000 * (lower_bound + (bound - lower_bound) * share)
        lower_bound, lower_count = bound, count
    return 1000 * lower_bound
