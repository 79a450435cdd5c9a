"""The served model and the follower that keeps it in step with the registry's ``champion`` alias.

A :class:`ServedModel` is immutable: a swap replaces the follower's reference in one assignment, so
a request that already holds the old model finishes with it and the next one gets the new model —
nothing is dropped and nothing waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from api.metrics import ApiMetrics
from core.adapters.errors import Missing
from core.adapters.model_store import ModelStore, VersionRef
from core.data.categories import CATEGORY_BY_CODE
from core.registry import CHAMPION
from core.tracking import MODEL_NAME
from core.train import INPUT_COLUMNS

log = logging.getLogger("api.model")


@dataclass(frozen=True, slots=True)
class Ranked:
    """One candidate class of a prediction."""

    code: int
    category: str
    probability: float


@dataclass(frozen=True)
class ServedModel:
    """A loaded registry version and what is needed to answer with it."""

    name: str
    version: int
    run_id: str
    loaded_at: datetime
    pipeline: Any = field(repr=False)
    codes: np.ndarray = field(repr=False)
    names: tuple[str, ...] = field(repr=False)

    @classmethod
    def of(cls, pipeline: Any, *, version: int, run_id: str) -> ServedModel:
        """Wrap a fitted pipeline (anything with ``classes_`` and ``predict_proba``)."""
        codes = np.asarray(pipeline.classes_)
        names = tuple(_category_name(int(c)) for c in codes)
        return cls(MODEL_NAME, version, run_id, datetime.now(UTC), pipeline, codes, names)

    def rank(self, products: pd.DataFrame, top_k: int) -> list[list[Ranked]]:
        """The ``top_k`` most probable classes of each product, most probable first."""
        if tuple(products.columns) != INPUT_COLUMNS:  # selecting copies the frame: only if needed
            products = products[list(INPUT_COLUMNS)]
        probabilities = self.pipeline.predict_proba(products)
        k = min(top_k, probabilities.shape[1])
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        return [
            [Ranked(int(self.codes[j]), self.names[j], float(row[j])) for j in order]
            for row, order in zip(probabilities, best, strict=True)
        ]


def products_frame(designations: Sequence[str], descriptions: Sequence[str]) -> pd.DataFrame:
    """The model's input: exactly its two text columns, so ``rank`` needs no column copy."""
    designation, description = INPUT_COLUMNS
    return pd.DataFrame({designation: list(designations), description: list(descriptions)})


def _category_name(code: int) -> str:
    category = CATEGORY_BY_CODE.get(code)
    return category.label_en if category else f"unknown ({code})"


class ChampionFollower:
    """Resolves the ``champion`` alias and loads the version it points at when it changes.

    ``check()`` is called at start-up, every ``RAKUTEN_API_POLL_SECONDS`` and by the reload
    endpoint; calls are serialised, and errors are recorded (``last_error``), never raised: a
    failing MLflow leaves the current model serving.
    """

    def __init__(self, store: ModelStore, metrics: ApiMetrics) -> None:
        self._store = store
        self.current: ServedModel | None = None
        self.last_error: str | None = None
        self.last_check: datetime | None = None
        self._metrics = metrics
        self._lock = threading.Lock()

    def check(self) -> bool:
        """Serve the current champion; returns whether a new version was swapped in."""
        with self._lock:
            self.last_check = datetime.now(UTC)
            try:
                ref = self._resolve_alias()
            except Missing as exc:  # no champion yet: said as it is
                self.last_error = str(exc)
                return False
            except Exception as exc:  # noqa: BLE001 - any failure is reported, the model stays
                self.last_error = f"cannot resolve {MODEL_NAME}@{CHAMPION}: {_short(exc)}"
                return False
            version = ref.version
            if self.current is not None and self.current.version == version:
                self.last_error = None
                return False
            try:
                model = self._load_version(ref)
            except Exception as exc:  # noqa: BLE001
                self._metrics.reloads.labels("failed").inc()
                self.last_error = f"cannot load {MODEL_NAME} version {version}: {_short(exc)}"
                log.error("%s", self.last_error)
                return False
            previous, self.current, self.last_error = self.current, model, None
            self._metrics.reloads.labels("loaded").inc()
            self._metrics.serving(model.name, version, ref.run_id)
            was = previous.version if previous else "none"
            log.info("serving %s version %s (was %s)", MODEL_NAME, version, was)
            return True

    def _resolve_alias(self) -> VersionRef:
        self._store.check_reachable()  # the client would retry a dead server for a while
        return self._store.champion_ref()

    def _load_version(self, ref: VersionRef) -> ServedModel:
        # The version's own logged model, not the alias (it may move again while this loads).
        pipeline = self._store.load_pipeline(ref)
        return ServedModel.of(pipeline, version=ref.version, run_id=ref.run_id)


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
