"""What the endpoints work with: the followed models, the writers, the metrics, the batcher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import HTTPException

from api.batching import MicroBatcher
from api.metrics import ApiMetrics
from api.model import ChampionFollower, Ranked, ServedModel
from api.schemas import Product
from api.shadow import Shadow
from api.writer import InferenceLogWriter
from core.inference_log import InferenceRecord
from core.settings import Settings


@dataclass(frozen=True)
class Services:
    """What the endpoints work with."""

    settings: Settings
    follower: ChampionFollower
    writer: InferenceLogWriter
    metrics: ApiMetrics
    batcher: MicroBatcher
    shadow: Shadow

    def serving(self) -> ServedModel:
        """The model to answer with, or a 503 saying why there is none."""
        model = self.follower.current
        if model is None:
            reason = self.follower.last_error or "the champion is still loading"
            raise HTTPException(503, f"no model loaded: {reason}")
        return model

    def check_models(self) -> None:
        """One check cycle: the champion, then the challenger (which must not be the champion)."""
        self.follower.check()
        self.shadow.check()

    def record(
        self,
        model: ServedModel,
        products: Sequence[Product],
        ranked: list[list[Ranked]],
        ids: list[str],
        latency_ms: float,
        source: str,
    ) -> None:
        """Count the predictions by class, queue them for the inference log, then hand the
        shadow's share to the challenger (both off the request path)."""
        now = datetime.now(UTC)
        records = []
        for request_id, product, candidates in zip(ids, products, ranked, strict=True):
            best = candidates[0]
            self.metrics.predictions.labels(str(best.code), best.category).inc()
            records.append(
                InferenceRecord(
                    request_id,
                    now,
                    product.designation,
                    product.description or "",
                    best.code,
                    best.probability,
                    model.version,
                    latency_ms,
                    source,
                )
            )
        self.writer.submit(records)
        self.shadow.offer(model, products, ranked, ids)
