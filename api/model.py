"""The served model and the followers that keep it in step with the registry's aliases.

A :class:`ServedModel` is immutable: a swap replaces the follower's reference in one assignment, so
a request that already holds the old model finishes with it and the next one gets the new model —
nothing is dropped and nothing waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from api.loading import keep_local_copy, load_scorer
from api.metrics import ApiMetrics
from core.adapters.errors import Missing
from core.adapters.model_refs import ServingSource, VersionRef
from core.data.categories import CATEGORY_BY_CODE
from core.registry import CHAMPION, MODEL_NAME
from core.serving import local_copy
from core.serving.compiled import CompiledModel, ProductScorer
from core.serving.explain import Explanation, NotExplainable, explain_product

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

    def explain(
        self, designation: str, description: str | None, top: int | None = 10
    ) -> Explanation:
        """Why this version gives the product its class (:mod:`core.serving.explain`).

        Raises:
            NotExplainable: The version has no linear scores (its message names the version).
        """
        try:
            return explain_product(self.scorer, designation, description, top=top)
        except NotExplainable as exc:
            raise NotExplainable(f"version {self.version} cannot be explained: {exc}") from exc

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


class AliasFollower:
    """Resolves one alias of the registered model and loads the version it points at when it moves.

    ``check()`` is called at start-up, every ``RAKUTEN_API_POLL_SECONDS`` and by the reload
    endpoint; calls are serialised, and errors are recorded (``last_error``), never raised.
    What an alias that is not set, an unreachable registry or a failed load mean is the
    subclass's to say (its hooks): the champion keeps serving what it has, the challenger in
    shadow (``api.challenger``) stops.
    """

    alias = CHAMPION

    def __init__(
        self,
        store: ServingSource,
        metrics: ApiMetrics,
        loader: Callable[[ServingSource, VersionRef], ProductScorer] | None = None,
    ) -> None:
        self.store = store
        self._loader = loader or load_scorer
        self._metrics = metrics
        self.current: ServedModel | None = None
        self.last_error: str | None = None
        self.last_check: datetime | None = None
        self.registry_unreachable_since: datetime | None = None
        self._lock = threading.Lock()

    def check(self) -> bool:
        """Serve the version the alias points at; returns whether a new version was swapped in."""
        with self._lock:
            self.last_check = datetime.now(UTC)
            try:
                ref = self._resolve_alias()
            except Missing as exc:  # the registry answered: the alias is not set
                self.registry_unreachable_since = None
                return self._missing(str(exc))
            except Exception as exc:  # noqa: BLE001 - any failure is reported, the model stays
                since = self.registry_unreachable_since or self.last_check
                self.registry_unreachable_since = since
                reason = f"cannot resolve {MODEL_NAME}@{self.alias}: {_short(exc)}"
                return self._unreachable(since, reason)
            self.registry_unreachable_since = None
            return self._follow(ref)

    def _follow(self, ref: VersionRef) -> bool:
        current = self.current
        if current is not None and (current.version, current.run_id) == (ref.version, ref.run_id):
            self._agreed()
            return False
        # Loading takes seconds (a child compiles the model): meanwhile /health says "no
        # model" without the reason of the last check ("no champion yet"), which is stale.
        self.last_error = None
        try:
            model = self._load_version(ref)
        except Exception as exc:  # noqa: BLE001
            self.last_error = f"cannot load {MODEL_NAME} version {ref.version}: {_short(exc)}"
            log.error("%s", self.last_error)
            self._load_failed()
            return False
        previous, self.current = self.current, model
        self._swapped(model, previous)
        return True

    def _missing(self, reason: str) -> bool:
        """The alias is not set: said as it is, and what is served stays."""
        self.last_error = reason
        return False

    def _unreachable(self, since: datetime, reason: str) -> bool:
        """The registry cannot be reached (since ``since``): what is served stays."""
        self.last_error = reason
        return False

    def _agreed(self) -> None:
        """The registry confirms the version in hand."""
        self.last_error = None

    def _load_failed(self) -> None:
        """The alias's new version could not be loaded (``last_error`` says why)."""

    def _swapped(self, model: ServedModel, previous: ServedModel | None) -> None:
        """``model`` was just put in place of ``previous``."""

    def _resolve_alias(self) -> VersionRef:
        self.store.check_reachable()  # the client would retry a dead server for a while
        return self.store.alias_ref(self.alias)

    def _load_version(self, ref: VersionRef) -> ServedModel:
        # The version's own logged model, not the alias (it may move again while this loads).
        scorer = self._loader(self.store, ref)
        model = ServedModel.of(scorer, version=ref.version, run_id=ref.run_id)
        how = "compiled" if model.compiled else "its pipeline (not compiled)"
        log.info("loaded %s version %s: answers from %s", MODEL_NAME, ref.version, how)
        return model


class ChampionFollower(AliasFollower):
    """Follows the ``champion`` alias: the model the API answers with.

    A failing MLflow leaves the current model serving, and ``registry_unreachable_since`` says
    since when it fails. Each version loaded in compiled form is kept in ``local_copy_dir``
    (:mod:`core.serving.local_copy`); a follower that has no model while the registry cannot be
    reached serves that copy (``serving_local_copy``) until the registry answers again.
    """

    def __init__(
        self,
        store: ServingSource,
        metrics: ApiMetrics,
        loader: Callable[[ServingSource, VersionRef], ProductScorer] | None = None,
        local_copy_dir: Path | None = None,
    ) -> None:
        super().__init__(store, metrics, loader)
        self._copy_dir = local_copy_dir
        self.serving_local_copy = False
        self._copy_text = ""  # which copy is served, for last_error while the outage lasts

    def _agreed(self) -> None:
        self.last_error, self.serving_local_copy = None, False  # the registry agrees

    def _load_failed(self) -> None:
        self._metrics.reloads.labels("failed").inc()

    def _swapped(self, model: ServedModel, previous: ServedModel | None) -> None:
        self._announce(model, previous)
        if self._copy_dir is not None:
            keep_local_copy(self._copy_dir, model, self.store.uri)

    def _announce(
        self, model: ServedModel, previous: ServedModel | None, *, from_copy: bool = False
    ) -> None:
        self.serving_local_copy = from_copy
        self._metrics.reloads.labels("loaded").inc()
        self._metrics.serving(model.name, model.version, model.run_id)
        was = previous.version if previous else "none"
        log.info("serving %s version %s (was %s)", MODEL_NAME, model.version, was)

    def _unreachable(self, since: datetime, reason: str) -> bool:
        """With no model and no registry, serve the copy of the last champion, if there is one."""
        previous, self.last_error = self.last_error, reason
        if self._copy_dir is None:
            return False
        outage = f"MLflow unreachable since {since:%Y-%m-%d %H:%M:%S} UTC"
        if self.current is not None:
            if self.serving_local_copy:  # the reason stays in sight for as long as it lasts
                self.last_error = f"{outage}: serving the local copy of {self._copy_text}"
            return False
        try:
            found = local_copy.load(self._copy_dir)
        except local_copy.LocalCopyError as exc:
            problem = f"the local copy cannot be used: {exc}"
            if problem not in (previous or ""):  # once per outage, not at every poll
                log.error("%s", problem)
            self.last_error = f"{reason}; {problem}"
            return False
        if found is None:
            return False
        manifest, compiled = found
        model = ServedModel.of(compiled, version=manifest.version, run_id=manifest.run_id)
        self._copy_text = f"v{manifest.version} saved at {manifest.saved_at:%Y-%m-%d %H:%M:%S} UTC"
        self.current = model
        self._announce(model, None, from_copy=True)
        self.last_error = f"{outage}: serving the local copy of {self._copy_text}"
        log.warning("%s", self.last_error)
        return True


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
