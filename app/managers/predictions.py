"""PredictionManager: the app's seam to the predictor API (health, predictions, its counters)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd

from app.managers.errors import ManagerError, Rejected, ServiceUnavailable, permission_errors
from app.records import ApiHealth, PredictionResult
from core.access import Action, Actor, AuditLog, LoggingAuditLog, audited, checks
from core.adapters.errors import AdapterError, Refused, Unreachable
from core.adapters.predictor import NoModel, Predictor
from core.service_metrics import Scrape

BATCH_COLUMNS = ("request_id", "code", "category", "probability", "model_version")
Progress = Callable[[int, int], object]  # what it returns is ignored (st.progress returns one)


def _quiet(_done: int, _total: int) -> None:
    """Progress sink for callers that show none."""


class PredictionManager:
    """Talks to the API through ``predictor``, ``batch_size`` products per batch request."""

    def __init__(
        self, predictor: Predictor, *, batch_size: int = 100, audit: AuditLog | None = None
    ) -> None:
        self._predictor = predictor
        self._batch_size = batch_size
        self._audit = audit or LoggingAuditLog()

    @property
    def api_url(self) -> str:
        """Where the API is."""
        return self._predictor.url

    @property
    def docs_url(self) -> str:
        """The API's interactive documentation."""
        return f"{self.api_url}/docs"

    def health(self) -> ApiHealth:
        """Whether the API is up, and which version it serves."""
        with self._translated():
            return self._predictor.health()

    def predict(
        self, designation: str, description: str = "", top_k: int = 5, *, explain: bool = False
    ) -> PredictionResult:
        """Classify one product; with ``explain``, also why (``result.explanation``)."""
        with self._translated():
            return self._predictor.predict(designation, description, top_k, explain=explain)

    def predict_batch(self, products: pd.DataFrame, progress: Progress = _quiet) -> pd.DataFrame:
        """Classify every row of ``products`` (``designation``, optional ``description``).

        Rows are sent in chunks, and ``progress(done, total)`` is called after each one.

        Returns:
            ``products`` with ``request_id``, ``code``, ``category``, ``probability`` and
            ``model_version`` added.
        """
        total = len(products)
        answers = []
        for start in range(0, total, self._batch_size):
            chunk = products.iloc[start : start + self._batch_size]
            pairs = [
                (str(d), str(s))
                for d, s in zip(chunk["designation"], _descriptions(chunk), strict=True)
            ]
            with self._translated():
                answers += self._predictor.predict_batch(pairs)
            progress(min(start + self._batch_size, total), total)
        found = pd.DataFrame(answers, columns=BATCH_COLUMNS)
        return pd.concat([products.reset_index(drop=True), found], axis=1)

    @checks(Action.SIMULATE_TRAFFIC)
    def send_traffic(
        self, products: pd.DataFrame, actor: Actor, progress: Progress = _quiet
    ) -> pd.DataFrame:
        """Send ``products`` as simulated traffic (an operator's action, audited): predictions
        that land in the inference log and feed the drift check."""
        params = {"rows": len(products)}
        with (
            permission_errors(),
            audited(self._audit, actor, Action.SIMULATE_TRAFFIC, target="api", params=params),
        ):
            return self.predict_batch(products, progress)

    def scrape(self) -> Scrape:
        """The API's counters now (its Prometheus ``/metrics``), for request and error rates."""
        try:
            return self._predictor.scrape()
        except Unreachable as exc:
            raise ServiceUnavailable(
                f"{exc}. Start the API with `make run` or `make api`."
            ) from exc

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except NoModel as exc:
            raise ServiceUnavailable(f"{exc}. Promote a champion on the Training page.") from exc
        except Unreachable as exc:
            raise ServiceUnavailable(
                f"{exc}. Start it on the Infrastructure page, with `make run` (all services) or "
                "`make api`, or set RAKUTEN_API_URL."
            ) from exc
        except Refused as exc:
            raise Rejected(str(exc)) from exc
        except AdapterError as exc:
            raise ManagerError(str(exc)) from exc


def _descriptions(frame: pd.DataFrame) -> pd.Series:
    if "description" not in frame:
        return pd.Series([""] * len(frame), index=frame.index)
    return frame["description"].fillna("").astype(str)
