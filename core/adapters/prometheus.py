"""Prometheus behind the :class:`MetricsHistory` port: the API's health series, with their history.

The same three series the Monitoring page takes from the API's own ``/metrics`` otherwise —
prediction requests per second, p95 latency and the share of 5xx answers — plus predictions by
class, as PromQL over the last minutes. :class:`PrometheusHttp` is the only code that speaks
Prometheus' HTTP API.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import requests

from core.adapters.errors import AdapterError, Refused, Unreachable
from core.service_metrics import HealthPoint

PREDICT = 'endpoint=~"/predict|/predict/batch"'
QUERIES = {
    "request_rate": f"sum(rate(rakuten_api_requests_total{{{PREDICT}}}[1m]))",
    "p95_ms": "1000 * histogram_quantile(0.95, sum by (le) "
    f"(rate(rakuten_api_request_duration_seconds_bucket{{{PREDICT}}}[1m])))",
    "error_rate": f'sum(rate(rakuten_api_requests_total{{{PREDICT},status=~"5.."}}[1m])) / '
    f"sum(rate(rakuten_api_requests_total{{{PREDICT}}}[1m]))",
}
BY_CLASS = "sum by (category) (increase(rakuten_api_predictions_total[{minutes}m]))"


class MetricsHistory(Protocol):
    """What the project asks of a metrics server that keeps the API's series."""

    url: str

    def health_history(self, minutes: int = 15, step_seconds: int = 15) -> list[HealthPoint]:
        """Request rate, p95 latency and error rate every ``step_seconds``, oldest first."""
        ...

    def predictions_by_class(self, minutes: int = 15) -> dict[str, float]:
        """Predictions per category over the last ``minutes`` (classes with none left out)."""
        ...


class PrometheusHttp(MetricsHistory):
    """The Prometheus server at ``url``, through its HTTP API (``/api/v1/query[_range]``)."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._http = requests.Session()

    def health_history(self, minutes: int = 15, step_seconds: int = 15) -> list[HealthPoint]:
        end = datetime.now(UTC)
        start = end - timedelta(minutes=minutes)
        series: dict[str, dict[datetime, float]] = {}
        for name, query in QUERIES.items():
            result = self._query(
                "query_range",
                query=query,
                start=start.timestamp(),
                end=end.timestamp(),
                step=step_seconds,
            )
            values = result[0]["values"] if result else []
            series[name] = {datetime.fromtimestamp(float(t), UTC): float(v) for t, v in values}

        # One point per time any series has; a series missing there (or NaN: 0/0) has no value.
        def value(name: str, at: datetime) -> float | None:
            found = series[name].get(at, math.nan)
            return None if math.isnan(found) else found

        return [
            HealthPoint(at, value("request_rate", at), value("p95_ms", at), value("error_rate", at))
            for at in sorted(set().union(*series.values()))
        ]

    def predictions_by_class(self, minutes: int = 15) -> dict[str, float]:
        result = self._query("query", query=BY_CLASS.format(minutes=minutes))
        found = {r["metric"].get("category", "?"): float(r["value"][1]) for r in result}
        return {k: v for k, v in found.items() if v}

    def _query(self, kind: str, **params: Any) -> list[dict[str, Any]]:
        try:
            response = self._http.get(
                f"{self.url}/api/v1/{kind}", params=params, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise Unreachable(
                f"Prometheus not reachable at {self.url} ({type(exc).__name__})"
            ) from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise AdapterError(f"Prometheus at {self.url} answered {response.status_code}") from exc
        if body.get("status") != "success":
            raise Refused(f"Prometheus refused the query: {body.get('error', body)}")
        return list(body["data"]["result"])
