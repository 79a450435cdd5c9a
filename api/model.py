"""The served model and the follower that keeps it in step with the registry's ``champion`` alias.

A :class:`ServedModel` is immutable: a swap replaces the follower's reference in one assignment, so
a request that already holds the old model finishes with it and the next one gets the new model —
nothing is dropped and nothing waits.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from api.metrics import ApiMetrics
from core.adapters.errors import Missing
from core.adapters.model_refs import ServingSource, VersionRef
from core.adapters.registry_http import HttpRegistry
from core.data.categories import CATEGORY_BY_CODE
from core.registry import CHAMPION, MODEL_NAME
from core.serving.compiled import CompiledModel, ProductScorer
from core.serving.isolated import compile_in_child

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("api.model")


class Ranked(NamedTuple):
    """One candidate class of a prediction (a tuple: a batch of 100 makes 500 of them)."""

    code: int
    category: str
    probability: float


@dataclass(frozen=True)
class ServedModel:
    """A loaded registry version and what is needed to answer with it.

    ``scorer`` is the version's compiled model (:mod:`core.serving`), or its pipeline when it
    could not be compiled; either gives the probabilities of raw products.
    """

    name: str
    version: int
    run_id: str
    loaded_at: datetime
    scorer: ProductScorer = field(repr=False)
    codes: np.ndarray = field(repr=False)
    names: tuple[str, ...] = field(repr=False)

    @classmethod
    def of(cls, scorer: Any, *, version: int, run_id: str) -> ServedModel:
        """Wrap a scorer (``classes`` and ``predict_proba_products``) or a fitted pipeline.

        A pipeline (anything with ``classes_`` and ``predict_proba`` over the input columns) is
        compiled here, and served as it is when it cannot be (:func:`serving_scorer`).
        """
        if not hasattr(scorer, "predict_proba_products"):
            from core.serving.compile import serving_scorer  # scikit-learn: only for a pipeline

            scorer = serving_scorer(scorer)
        codes = np.asarray(scorer.classes)
        names = tuple(_category_name(int(c)) for c in codes)
        return cls(MODEL_NAME, version, run_id, datetime.now(UTC), scorer, codes, names)

    @property
    def compiled(self) -> bool:
        """Whether answers come from the compiled model (else from the pipeline itself)."""
        return isinstance(self.scorer, CompiledModel)

    def rank_texts(
        self, designations: Sequence[str], descriptions: Sequence[str], top_k: int
    ) -> list[list[Ranked]]:
        """The ``top_k`` most probable classes of each product, most probable first."""
        probabilities = self.scorer.predict_proba_products(designations, descriptions)
        return self._top(probabilities, top_k)

    def rank(self, products: pd.DataFrame, top_k: int) -> list[list[Ranked]]:
        """:meth:`rank_texts` of a frame with ``designation`` and ``description`` columns."""
        return self.rank_texts(
            products["designation"].tolist(), products["description"].tolist(), top_k
        )

    def _top(self, probabilities: np.ndarray, top_k: int) -> list[list[Ranked]]:
        n, classes = probabilities.shape
        k = min(top_k, classes)
        if k < classes:  # the k best in any order (linear time), then only those k sorted
            best = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
        else:
            best = np.broadcast_to(np.arange(classes), (n, classes))
        chosen = np.take_along_axis(probabilities, best, axis=1)
        # Ties keep the lower column first, as a stable sort of the whole row would.
        order = np.lexsort((best, -chosen), axis=1)
        best = np.take_along_axis(best, order, axis=1)
        values = np.take_along_axis(chosen, order, axis=1).tolist()
        codes, names = self.codes.tolist(), self.names
        return [
            [Ranked(codes[j], names[j], p) for j, p in zip(row, probs, strict=True)]
            for row, probs in zip(best.tolist(), values, strict=True)
        ]


def _category_name(code: int) -> str:
    category = CATEGORY_BY_CODE.get(code)
    return category.label_en if category else f"unknown ({code})"


class ChampionFollower:
    """Resolves the ``champion`` alias and loads the version it points at when it changes.

    ``check()`` is called at start-up, every ``RAKUTEN_API_POLL_SECONDS`` and by the reload
    endpoint; calls are serialised, and errors are recorded (``last_error``), never raised: a
    failing MLflow leaves the current model serving.
    """

    def __init__(
        self,
        store: ServingSource,
        metrics: ApiMetrics,
        loader: Callable[[ServingSource, VersionRef], ProductScorer] | None = None,
    ) -> None:
        self._store = store
        self._loader = loader or load_scorer
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
            # Loading takes seconds (a child compiles the model): meanwhile /health says "no
            # model" without the reason of the last check ("no champion yet"), which is stale.
            self.last_error = None
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
        scorer = self._loader(self._store, ref)
        model = ServedModel.of(scorer, version=ref.version, run_id=ref.run_id)
        how = "compiled" if model.compiled else "its pipeline (not compiled)"
        log.info("loaded %s version %s: answers from %s", MODEL_NAME, ref.version, how)
        return model


def load_scorer(store: ServingSource, ref: VersionRef) -> ProductScorer:
    """The version's model: compiled, or its pipeline when it cannot be.

    A process that has not imported scikit-learn (the API under uvicorn) has the version compiled
    by a child process and never imports it (:mod:`core.serving.isolated`); one that has (the
    tests, a notebook) compiles here, at no extra memory.
    """
    if "sklearn" not in sys.modules:
        compiled = compile_in_child(store.uri, ref, _credentials(store))
        if compiled is not None:
            return compiled
    from core.serving.compile import serving_scorer  # scikit-learn, to read the pipeline

    return serving_scorer(store.load_pipeline(ref))


def _credentials(store: ServingSource) -> tuple[str, str] | None:
    # An MlflowModelStore has put its credentials in the environment the child inherits.
    if isinstance(store, HttpRegistry) and store.username:
        return store.username, store.password.get_secret_value()
    return None


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
