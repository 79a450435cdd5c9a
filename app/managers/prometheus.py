"""PrometheusManager: service health as Prometheus has recorded it (when one is configured).

The same three series the Monitoring page draws from the API's own ``/metrics`` otherwise:
prediction requests per second, p95 latency and the share of 5xx answers, plus predictions by
class — as PromQL over the last minutes, with Prometheus' own history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import requests

from app.managers.errors import ManagerError, ServiceUnavailable

PREDICT = 'endpoint=~"/predict|/predict/batch"'
QUERIES = {
    "request_rate": f"sum(rate(rakuten_api_requests_total{{{PREDICT}}}[1m]))",
    "p95_ms": "1000 * histogram_quantile(0.95, sum by (le) "
    f"(rate(rakuten_api_request_duration_seconds_bucket{{{PREDICT}}}[1m])))",
    "error_rate": f'sum(rate(rakuten_api_requests_total{{{PREDICT},status=~"5.."}}[1m])) / '
    f"sum(rate(rakuten_api_requests_total{{{PREDICT}}}[1m]))",
}
BY_CLASS = "sum by (category) (increase(rakuten_api_predictions_total[{minutes}m]))"


class PrometheusManager:
    """Reads the API's series from the Prometheus server at ``url``."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._http = requests.Session()

    def health_history(self, minutes: int = 15, step_seconds: int = 15) -> pd.DataFrame:
        """``at``, ``request_rate``, ``p95_ms``, ``error_rate`` over the last ``minutes``."""
        end = datetime.now(UTC)
        start = end - timedelta(minutes=minutes)
        series = {}
        for column, query in QUERIES.items():
            result = self._query(
                "query_range", query=query, start=start.timestamp(), end=end.timestamp(),
                step=step_seconds,
            )  # fmt: skip
            values = result[0]["values"] if result else []
            at = [datetime.fromtimestamp(float(t), UTC) for t, _ in values]
            series[column] = pd.Series([float(v) for _, v in values], index=at, dtype=float)
        # One column per query, aligned on time (a point missing from one series is NaN there).
        return pd.DataFrame(series).sort_index().rename_axis("at").reset_index()

    def predictions_by_class(self, minutes: int = 15) -> dict[str, float]:
        """Predictions per category over the last ``minutes``."""
        result = self._query("query", query=BY_CLASS.format(minutes=minutes))
        found = {r["metric"].get("category", "?"): float(r["value"][1]) for r in result}
        return {k: v for k, v in found.items() if v}

    def _query(self, kind: str, **params: Any) -> list[dict[str, Any]]:
        try:
            response = self._http.get(
                f"{self.url}/api/v1/{kind}", params=params, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"Prometheus not reachable at {self.url} ({type(exc).__name__}). Start it, or "
                "clear RAKUTEN_PROMETHEUS_URL to read the API's /metrics directly."
            ) from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise ManagerError(f"Prometheus at {self.url} answered {response.status_code}") from exc
        if body.get("status") != "success":
            raise ManagerError(f"Prometheus refused the query: {body.get('error', body)}")
        return list(body["data"]["result"])
