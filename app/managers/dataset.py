"""DatasetManager: the Dataset page's seam: import, load in stratified batches, explore.

The role checks and the audit rows of the changes are the use cases' own
(:mod:`core.usecases.dataset`); a refusal comes out as :class:`~app.managers.errors.Forbidden`.
"""

from __future__ import annotations

import pandas as pd

from app.managers.database import Database
from core.access import Action, Actor, checks
from core.data import queries
from core.data.importer import NamedSource
from core.data.queries import DatasetStatus, ExampleProduct, ProductPage, Scope, TextStats
from core.settings import Settings
from core.usecases import dataset as lifecycle
from core.usecases.dataset import Catalogue, ImportSummary, LoadResult, Progress


class DatasetManager:
    """The dataset and its loading; every failure comes out as a ``ManagerError``."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._db = database
        self._settings = settings

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.backend

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self._db.url

    def status(self) -> DatasetStatus:
        """Where the data lifecycle stands; also the reachability check of the status strip."""
        return self._db.read(queries.dataset_status)

    def history(self) -> pd.DataFrame:
        """Every load, oldest first."""
        return self._db.read(queries.load_history_frame)

    def class_distribution(self) -> pd.DataFrame:
        """Rows per category: pool, loaded, holdout."""
        return self._db.read(queries.class_distribution)

    def text_stats(self, scope: Scope = "loaded") -> TextStats:
        """Text length distributions and markup shares."""
        return self._db.read(lambda conn: queries.text_stats(conn, scope))

    def search(self, text: str, code: int | None, scope: Scope, page: int) -> ProductPage:
        """One page of matching products."""
        return self._db.read(
            lambda conn: queries.search_products(conn, text=text, code=code, scope=scope, page=page)
        )

    def holdout(self) -> pd.DataFrame:
        """The fixed holdout (what the traffic simulator draws from)."""
        return self._db.read(queries.holdout_frame)

    def examples(self, count: int = 6) -> list[ExampleProduct]:
        """A few holdout products of different categories, to try predictions with."""
        return self._db.read(lambda conn: queries.example_products(conn, count))

    @checks(Action.IMPORT_DATA, Action.REPLACE_DATA)
    def import_builtin(
        self, rows: int, *, actor: Actor, replace: bool = False, progress: Progress | None = None
    ) -> ImportSummary:
        """Generate the built-in synthetic catalogue and import it."""
        catalogue = lifecycle.builtin_catalogue(rows, self._settings.seed)
        return self._import(catalogue, actor, replace, progress)

    @checks(Action.IMPORT_DATA, Action.REPLACE_DATA)
    def import_files(
        self,
        x: NamedSource,
        y: NamedSource | None = None,
        *,
        actor: Actor,
        replace: bool = False,
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Validate and import the challenge's X/Y pair, or one labelled CSV when ``y`` is None."""
        catalogue = (
            lifecycle.labelled_catalogue(x) if y is None else lifecycle.challenge_catalogue(x, y)
        )
        return self._import(catalogue, actor, replace, progress)

    @checks(Action.INITIALIZE)
    def initialize(self, actor: Actor) -> LoadResult:
        """Load the initial stratified share."""
        bp = self._settings.initial_load_bp
        return self._db.write(lambda engine: lifecycle.initialize(engine, bp, actor))

    @checks(Action.LOAD_NEXT_BATCH)
    def load_next_batch(self, actor: Actor, expected_bp: int | None = None) -> LoadResult:
        """Load the next stratified batch (nothing when ``expected_bp`` is stale)."""
        bp = self._settings.batch_bp
        return self._db.write(
            lambda engine: lifecycle.load_next_batch(engine, bp, actor, expected_bp)
        )

    @checks(Action.RESET)
    def reset(self, actor: Actor) -> LoadResult:
        """Unload every product."""
        return self._db.write(lambda engine: lifecycle.reset(engine, actor))

    def _import(
        self, catalogue: Catalogue, actor: Actor, replace: bool, progress: Progress | None
    ) -> ImportSummary:
        settings = self._settings
        return self._db.write(
            lambda engine: lifecycle.import_catalogue(
                engine,
                catalogue,
                holdout_fraction=settings.holdout_fraction,
                seed=settings.seed,
                actor=actor,
                replace=replace,
                progress=progress,
            )
        )
