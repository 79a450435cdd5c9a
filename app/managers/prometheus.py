"""PrometheusManager: service health as Prometheus has recorded it (when one is configured).

Error translation over the :class:`~core.adapters.prometheus.MetricsHistory` port: what to do
when Prometheus is down is to start it, or to let the page read the API's ``/metrics`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.managers.errors import ManagerError, Rejected, ServiceUnavailable
from core.adapters.errors import AdapterError, Refused, Unreachable
from core.adapters.prometheus import MetricsHistory
from core.service_metrics import ServiceHealth


class PrometheusManager:
    """Reads the API's series through ``history`` (Prometheus' HTTP API in production)."""

    def __init__(self, history: MetricsHistory) -> None:
        self._history = history

    @property
    def url(self) -> str:
        """Where Prometheus is."""
        return self._history.url

    def service_health(self, minutes: int = 15) -> ServiceHealth:
        """The health series and predictions by class over the last ``minutes``."""
        with self._translated():
            points = self._history.health_history(minutes)
            by_class = self._history.predictions_by_class(minutes)
        return ServiceHealth(tuple(points), by_class, self.url, minutes)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except Unreachable as exc:
            raise ServiceUnavailable(
                f"{exc}. Start it, or clear RAKUTEN_PROMETHEUS_URL to read the API's /metrics "
                "directly."
            ) from exc
        except Refused as exc:
            raise Rejected(str(exc)) from exc
        except AdapterError as exc:
            raise ManagerError(str(exc)) from exc
