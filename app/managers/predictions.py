"""PredictionManager: the app's seam to the predictor API (health, predictions, reload).

Plain HTTP with short timeouts, like the Prefect manager: the page must stay responsive when the
API is down, and say where it looked and how to start it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import requests

from app.managers.errors import ManagerError, Rejected, ServiceUnavailable
from app.records import ApiHealth, PredictionResult
from core.service_metrics import Scrape, parse_scrape

BATCH_COLUMNS = ("request_id", "code", "category", "probability")
Progress = Callable[[int, int], object]  # what it returns is ignored (st.progress returns one)


def _quiet(_done: int, _total: int) -> None:
    """Progress sink for callers that show none."""


class PredictionManager:
    """Talks to the API at ``api_url``; ``token`` (``RAKUTEN_API_TOKEN``) enables reloads."""

    def __init__(
        self, api_url: str, token: str = "", *, batch_size: int = 100, timeout: float = 10.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._batch_size = batch_size
        self._timeout = timeout
        self._http = requests.Session()

    @property
    def docs_url(self) -> str:
        """The API's interactive documentation."""
        return f"{self.api_url}/docs"

    def health(self) -> ApiHealth:
        """Whether the API is up, and which version it serves."""
        body = self._call("GET", "/health", timeout=3)
        model = body.get("model") or {}
        return ApiHealth(
            url=self.api_url,
            model_loaded=bool(body.get("model_loaded")),
            version=model.get("version"),
            loaded_at=_time(model.get("loaded_at")),
            last_error=body.get("last_error"),
            poll_seconds=float(body.get("poll_seconds") or 0),
        )

    def predict(self, designation: str, description: str = "", top_k: int = 5) -> PredictionResult:
        """Classify one product."""
        start = time.perf_counter()
        body = self._call(
            "POST", "/predict",
            {"designation": designation, "description": description, "top_k": top_k},
        )  # fmt: skip
        top = pd.DataFrame(body["top_k"], columns=["code", "category", "probability"])
        return PredictionResult(
            request_id=body["request_id"], code=body["code"], category=body["category"],
            probability=body["probability"], top=top, model_version=body["model"]["version"],
            latency_ms=body["latency_ms"], roundtrip_ms=(time.perf_counter() - start) * 1000,
        )  # fmt: skip

    def predict_batch(self, products: pd.DataFrame, progress: Progress = _quiet) -> pd.DataFrame:
        """Classify every row of ``products`` (``designation``, optional ``description``).

        Rows are sent in chunks, and ``progress(done, total)`` is called after each one.

        Returns:
            ``products`` with ``request_id``, ``code``, ``category``, ``probability`` and
            ``model_version`` added.
        """
        total = len(products)
        answers: list[dict[str, Any]] = []
        for start in range(0, total, self._batch_size):
            chunk = products.iloc[start : start + self._batch_size]
            items = [
                {"designation": str(d), "description": str(s)}
                for d, s in zip(chunk["designation"], _descriptions(chunk), strict=True)
            ]
            body = self._call("POST", "/predict/batch", {"products": items}, timeout=60)
            version = body["model"]["version"]
            answers += [{**p, "model_version": version} for p in body["predictions"]]
            progress(min(start + self._batch_size, total), total)
        found = pd.DataFrame(answers, columns=[*BATCH_COLUMNS, "model_version"])
        return pd.concat([products.reset_index(drop=True), found], axis=1)

    def scrape(self) -> Scrape:
        """The API's counters now (its Prometheus ``/metrics``), for request and error rates."""
        try:
            response = self._http.get(f"{self.api_url}/metrics", timeout=3)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"Predictor API metrics not readable at {self.api_url}/metrics "
                f"({type(exc).__name__}). Start the API with `make run` or `make api`."
            ) from exc
        return parse_scrape(response.text, datetime.now(UTC))

    def reload(self) -> ApiHealth:
        """Ask the API to check the champion alias now (after a promotion or a rollback)."""
        if not self._token:
            raise Rejected("No RAKUTEN_API_TOKEN is set: the API will pick up the new champion "
                           "at its next check.")  # fmt: skip
        self._call("POST", "/model/reload", headers={"Authorization": f"Bearer {self._token}"})
        return self.health()

    def _call(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:  # fmt: skip
        url = f"{self.api_url}{path}"
        try:
            response = self._http.request(
                method, url, json=body, headers=headers, timeout=timeout or self._timeout
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"Predictor API not reachable at {self.api_url} ({type(exc).__name__}). Start it "
                "on the Infrastructure page, with `make run` (all services) or `make api`, or set "
                "RAKUTEN_API_URL."
            ) from exc
        detail = _detail(response)
        if response.status_code == 503:
            raise ServiceUnavailable(
                f"The API at {self.api_url} serves no model ({detail}). Promote a champion on "
                "the Training page."
            )
        if 400 <= response.status_code < 500:
            raise Rejected(f"The API refused the request: {detail}")
        if not response.ok:
            raise ManagerError(
                f"The API at {self.api_url} failed ({response.status_code}): {detail}"
            )
        return response.json()


def _descriptions(frame: pd.DataFrame) -> pd.Series:
    if "description" not in frame:
        return pd.Series([""] * len(frame), index=frame.index)
    return frame["description"].fillna("").astype(str)


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", response.reason))
    except ValueError:
        return response.text[:200] or str(response.reason)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
