"""What the endpoints work with: the followed models, the writers, the metrics, the batcher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import HTTPException

from api.batching import MicroBatcher
from api.canary import Canary
from api.metrics import ApiMetrics
from api.model import ChampionFollower, Ranked, ServedModel
from api.schemas import Product
from api.shadow import Shadow
from api.writer import InferenceLogWriter
from core.inference_log import InferenceRecord
from core.registry import CHALLENGER, CHAMPION
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
    canary: Canary

    def serving(self) -> ServedModel:
        """The model to answer with, or a 503 saying why there is none."""
        model = self.follower.current
        if model is None:
            reason = self.follower.last_error or "the champion is still loading"
            raise HTTPException(503, f"no model loaded: {reason}")
        return model

    def answering(self) -> tuple[ServedModel, str]:
        """The model that answers this request and its alias: the challenger for the canary's
        share (while one is loaded and is not the champion), else the champion."""
        champion = self.serving()
        challenger = self.shadow.challenger.current
        if challenger is not None and challenger.version != champion.version:
            if self.canary.chosen():
                self.metrics.canary_answers.inc()
                return challenger, CHALLENGER
        return champion, CHAMPION

    def check_models(self) -> None:
        """One check cycle: the canary share, the champion, then the challenger (which must not
        be the champion, and is followed while a shadow or a canary needs it)."""
        self.canary.refresh()
        self.follower.check()
        self.shadow.check(needed=self.canary.share > 0)

    def record(
        self,
        model: ServedModel,
        products: Sequence[Product],
        ranked: list[list[Ranked]],
        ids: list[str],
        latency_ms: float,
        source: str,
        alias: str = CHAMPION,
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
                    alias,
                )
            )
        self.writer.submit(records)
        # The other model scores it in shadow: the challenger, or the champion for a canary.
        self.shadow.offer(
            model, products, ranked, ids, CHAMPION if alias == CHALLENGER else CHALLENGER
        )
