"""Service health from two /metrics scrapes, checked against the API's real exposition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from api.metrics import ApiMetrics
from core.service_metrics import health_from_scrapes, parse_scrape, window_stats

T0 = datetime(2026, 11, 27, 9, tzinfo=UTC)


def scrape(metrics: ApiMetrics, seconds: float):
    return parse_scrape(generate_latest(metrics.registry).decode(), T0 + timedelta(seconds=seconds))


def test_rates_errors_latency_and_classes_between_two_scrapes() -> None:
    metrics = ApiMetrics()
    metrics.requests.labels("/predict", "POST", "200").inc(10)
    before = scrape(metrics, 0)
    metrics.requests.labels("/predict", "POST", "200").inc(18)
    metrics.requests.labels("/predict", "POST", "503").inc(2)
    metrics.requests.labels("/health", "GET", "200").inc(50)  # not a prediction request
    for seconds in [0.002] * 19 + [0.2]:
        metrics.latency.labels("/predict").observe(seconds)
    metrics.predictions.labels("2583", "Pools & accessories").inc(15)
    metrics.predictions.labels("10", "Used books").inc(5)
    stats = window_stats(before, scrape(metrics, 10))
    assert stats.request_rate == pytest.approx(2.0) and stats.error_rate == pytest.approx(0.1)
    assert 1 < stats.p95_ms <= 2.5  # 19 of 20 under 2.5 ms: the 95th is in that bucket
    assert stats.predictions == {"Pools & accessories": 15, "Used books": 5}


def test_no_traffic_and_a_restarted_api() -> None:
    metrics = ApiMetrics()
    quiet = window_stats(scrape(metrics, 0), scrape(metrics, 5))
    assert quiet.request_rate == 0 and quiet.p95_ms is None and quiet.predictions == {}
    busy = ApiMetrics()
    busy.requests.labels("/predict", "POST", "200").inc(100)
    restarted = ApiMetrics()
    restarted.requests.labels("/predict", "POST", "200").inc(4)
    after_restart = window_stats(scrape(busy, 0), scrape(restarted, 2))
    assert after_restart.request_rate == pytest.approx(2.0)  # counts from zero again


def test_health_from_consecutive_scrapes() -> None:
    metrics = ApiMetrics()
    first = scrape(metrics, 0)
    assert health_from_scrapes([first]).points == ()  # a rate needs two reads
    metrics.requests.labels("/predict", "POST", "200").inc(10)
    metrics.predictions.labels("10", "Used books").inc(10)
    second = scrape(metrics, 5)
    metrics.requests.labels("/predict", "POST", "500").inc(5)
    health = health_from_scrapes([first, second, scrape(metrics, 10)])
    assert [p.at for p in health.points] == [T0 + timedelta(seconds=5), T0 + timedelta(seconds=10)]
    assert [p.request_rate for p in health.points] == [2.0, 1.0]
    assert [p.error_rate for p in health.points] == [0.0, 1.0]
    assert health.predictions == {"Used books": 10} and health.prometheus_url is None
