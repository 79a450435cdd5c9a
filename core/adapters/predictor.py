"""The predictor API behind the :class:`Predictor` port: health, reload, predictions, metrics.

:class:`HttpPredictor` is the one HTTP client of the API, used by the app and by the train flow
(to ask for a reload after a promotion). Plain HTTP with short timeouts: a caller must stay
responsive when the API is down, and learn where it was looked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pandas as pd
import requests

from core.adapters.errors import AdapterError, Refused, Unreachable
from core.service_metrics import Scrape, parse_scrape
from core.serving.explain import ClassEvidence, Evidence, Explanation

RELOAD_TIMEOUT = 30.0  # a reload may load a model before it answers


class NoModel(Unreachable):
    """The API answers but serves no model (no champion yet, or it cannot be loaded)."""


@dataclass(frozen=True, slots=True)
class ApiHealth:
    """What the predictor API says about itself."""

    url: str
    model_loaded: bool
    version: int | None
    loaded_at: datetime | None
    last_error: str | None
    poll_seconds: float
    # Optional: an API older than these fields leaves them at their defaults.
    registry_unreachable_since: datetime | None = None
    serving_local_copy: bool = False
    shadow_version: int | None = None  # the challenger scored in shadow, if any
    shadow_share: float = 0.0  # share of predictions it scores
    shadow_idle_reason: str | None = None  # why none is in shadow


@dataclass(frozen=True)
class PredictionResult:
    """One product's prediction: the best class, the top-k and who answered how fast."""

    request_id: str
    code: int
    category: str
    probability: float
    top: pd.DataFrame  # code, category, probability; most probable first
    model_version: int
    latency_ms: float  # inside the API
    roundtrip_ms: float  # as the caller saw it
    explanation: Explanation | None = None  # asked with explain=True


@dataclass(frozen=True, slots=True)
class BatchPrediction:
    """One product's best class in a batch answer."""

    request_id: str
    code: int
    category: str
    probability: float
    model_version: int


class Predictor(Protocol):
    """What the project asks of the predictor API."""

    url: str

    def health(self) -> ApiHealth:
        """Whether the API is up, and which version it serves."""
        ...

    def predict(
        self, designation: str, description: str = "", top_k: int = 5, *, explain: bool = False
    ) -> PredictionResult:
        """Classify one product; with ``explain``, also why (the terms' contributions)."""
        ...

    def predict_batch(self, products: list[tuple[str, str]]) -> list[BatchPrediction]:
        """Classify (designation, description) pairs in one request, answers in their order."""
        ...

    def scrape(self) -> Scrape:
        """The API's Prometheus counters now."""
        ...

    def reload(self, *, wait: bool = True) -> ApiHealth:
        """Ask the API to check the champion alias now; what it serves afterwards.

        ``wait=False``: the API answers at once with what it serves now and loads a new
        champion after answering.
        """
        ...


class HttpPredictor(Predictor):
    """The API at ``url``; ``token`` (``RAKUTEN_API_TOKEN``) enables reloads."""

    def __init__(self, url: str, token: str = "", *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._http = requests.Session()

    def health(self) -> ApiHealth:
        return self._health(self._call("GET", "/health", timeout=3))

    def predict(
        self, designation: str, description: str = "", top_k: int = 5, *, explain: bool = False
    ) -> PredictionResult:
        start = time.perf_counter()
        request = {"designation": designation, "description": description, "top_k": top_k}
        body = self._call("POST", "/predict", {**request, "explain": True} if explain else request)
        top = pd.DataFrame(body["top_k"], columns=["code", "category", "probability"])
        return PredictionResult(
            request_id=body["request_id"],
            code=body["code"],
            category=body["category"],
            probability=body["probability"],
            top=top,
            model_version=body["model"]["version"],
            latency_ms=body["latency_ms"],
            roundtrip_ms=(time.perf_counter() - start) * 1000,
            explanation=_explanation(body.get("explanation")),
        )

    def predict_batch(self, products: list[tuple[str, str]]) -> list[BatchPrediction]:
        items = [{"designation": d, "description": s} for d, s in products]
        body = self._call("POST", "/predict/batch", {"products": items}, timeout=60)
        version = body["model"]["version"]
        return [
            BatchPrediction(p["request_id"], p["code"], p["category"], p["probability"], version)
            for p in body["predictions"]
        ]

    def scrape(self) -> Scrape:
        try:
            response = self._http.get(f"{self.url}/metrics", timeout=3)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise Unreachable(
                f"Predictor API not reachable at {self.url} ({type(exc).__name__}): its metrics "
                f"at {self.url}/metrics cannot be read"
            ) from exc
        return parse_scrape(response.text, datetime.now(UTC))

    def reload(self, *, wait: bool = True) -> ApiHealth:
        if not self._token:
            raise Refused(
                "No RAKUTEN_API_TOKEN is set: the API will pick up the new champion at its next "
                "check."
            )
        headers = {"Authorization": f"Bearer {self._token}"}
        path = "/model/reload" if wait else "/model/reload?wait=false"
        body = self._call("POST", path, headers=headers, timeout=RELOAD_TIMEOUT)
        return self._health(body)  # the reload answers with the API's health

    def _health(self, body: dict[str, Any]) -> ApiHealth:
        model = body.get("model") or {}
        loaded_at = model.get("loaded_at")
        since = body.get("registry_unreachable_since")
        shadow = body.get("shadow") or {}
        return ApiHealth(
            url=self.url,
            model_loaded=bool(body.get("model_loaded")),
            version=model.get("version"),
            loaded_at=datetime.fromisoformat(loaded_at) if loaded_at else None,
            last_error=body.get("last_error"),
            poll_seconds=float(body.get("poll_seconds") or 0),
            registry_unreachable_since=datetime.fromisoformat(since) if since else None,
            serving_local_copy=bool(body.get("serving_local_copy")),
            shadow_version=shadow.get("challenger"),
            shadow_share=float(shadow.get("share") or 0),
            shadow_idle_reason=shadow.get("idle_reason"),
        )

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = self._http.request(
                method,
                f"{self.url}{path}",
                json=body,
                headers=headers,
                timeout=timeout or self._timeout,
            )
        except requests.RequestException as exc:
            raise Unreachable(
                f"Predictor API not reachable at {self.url} ({type(exc).__name__})"
            ) from exc
        detail = _detail(response)
        if response.status_code == 503:
            raise NoModel(f"The API at {self.url} serves no model ({detail})")
        if 400 <= response.status_code < 500:
            raise Refused(f"The API refused the request: {detail}")
        if not response.ok:
            raise AdapterError(f"The API at {self.url} failed ({response.status_code}): {detail}")
        return response.json()


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", response.reason))
    except ValueError:
        return response.text[:200] or str(response.reason)


def _explanation(body: dict[str, Any] | None) -> Explanation | None:
    """The API's explanation (``api.explanation.ExplanationOut``) as the domain's record."""
    if not body:
        return None

    def evidence(part: dict[str, Any]) -> ClassEvidence:
        return ClassEvidence(
            code=part["code"],
            score=part["score"],
            intercept=part["intercept"],
            terms=tuple(
                Evidence(t["term"], t["kind"], t["tfidf"], t["coefficient"]) for t in part["terms"]
            ),
            other_terms=part["other_terms"],
            words={w["word"]: w["contribution"] for w in part["words"]},
        )

    runner_up = body.get("runner_up")
    return Explanation(
        evidence(body["predicted"]), evidence(runner_up) if runner_up else None, body["scores"]
    )
