"""DatabaseManager: the app's seam to the database (data lifecycle reads and writes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from app.managers.errors import ManagerError, NotFound, Rejected, ServiceUnavailable
from core import drift_store, inference_log
from core.data import loading, queries
from core.data.importer import (
    DataValidationError,
    NamedSource,
    read_challenge_files,
    read_labelled_csv,
)
from core.data.queries import DatasetStatus, ProductPage, Scope, TextStats
from core.data.store import DatasetExists, ImportSummary, import_products
from core.data.synthetic import generate_catalogue
from core.db.engine import describe, ensure_schema
from core.inference_log import FeedbackAccuracy
from core.settings import Settings

T = TypeVar("T")
Progress = Callable[[str], None]


def _quiet(_step: str) -> None:
    """Progress sink for callers that show none."""


class DatabaseManager:
    """Reads and changes the data lifecycle; every failure comes out as a ``ManagerError``."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._schema_ready = False

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return describe(self._engine)

    def status(self) -> DatasetStatus:
        """Where the data lifecycle stands; also the reachability check of the status strip."""
        return self._read(queries.dataset_status)

    def history(self) -> pd.DataFrame:
        """Every load, oldest first."""
        return self._read(queries.load_history_frame)

    def class_distribution(self) -> pd.DataFrame:
        """Rows per category: pool, loaded, holdout."""
        return self._read(queries.class_distribution)

    def text_stats(self, scope: Scope = "loaded") -> TextStats:
        """Text length distributions and markup shares."""
        return self._read(lambda conn: queries.text_stats(conn, scope))

    def search(self, text: str, code: int | None, scope: Scope, page: int) -> ProductPage:
        """One page of matching products."""
        return self._read(
            lambda conn: queries.search_products(conn, text=text, code=code, scope=scope, page=page)
        )

    def predictions(
        self, *, code: int | None = None, search: str = "", since: datetime | None = None,
        until: datetime | None = None, limit: int = 500,
    ) -> pd.DataFrame:  # fmt: skip
        """The inference log, newest first, with the true category where feedback was given."""
        return self._read(
            lambda conn: inference_log.history(
                conn, code=code, search=search, since=since, until=until, limit=limit
            )
        )

    def wait_until_logged(self, request_id: str, timeout: float = 1.5) -> bool:
        """Wait (briefly) for the API's buffered write of a prediction; False if it is not there.

        The page calls this after a prediction, so that the history it shows includes it.
        """
        deadline = time.monotonic() + timeout
        while not self._read(lambda conn: inference_log.is_logged(conn, request_id)):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def feedback_accuracy(self, since: datetime | None = None) -> FeedbackAccuracy:
        """Live accuracy from the feedback given so far."""
        return self._read(lambda conn: inference_log.feedback_accuracy(conn, since=since))

    def record_feedback(self, request_id: str, true_code: int) -> None:
        """Mark the true category of a prediction (replaces an earlier mark)."""
        try:
            self._write(lambda: inference_log.record_feedback(self._engine, request_id, true_code))
        except ValueError as exc:
            raise Rejected(str(exc)) from exc

    def prediction_count(self, since: datetime | None = None) -> int:
        """How many predictions the inference log holds (since a time)."""
        return self._read(lambda conn: inference_log.prediction_count(conn, since))

    def holdout(self) -> pd.DataFrame:
        """The fixed holdout (what the traffic simulator draws from)."""
        return self._read(queries.holdout_frame)

    def drift_runs(self, limit: int = 200) -> pd.DataFrame:
        """The drift checks, newest first."""
        return self._read(lambda conn: drift_store.drift_runs_frame(conn, limit))

    def drift_report(self, report_file: str) -> str:
        """The Evidently HTML report of one drift check."""
        path = self._settings.var_dir / "drift" / Path(report_file).name
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise NotFound(f"The report {report_file} is no longer in {path.parent}.") from exc

    def examples(self, count: int = 6) -> pd.DataFrame:
        """A few holdout products of different categories, to try predictions with."""
        return self._read(lambda conn: queries.example_products(conn, count))

    def import_builtin(
        self, rows: int, replace: bool = False, progress: Progress | None = None
    ) -> ImportSummary:
        """Generate the built-in synthetic catalogue and import it."""
        seed = self._settings.seed
        return self._import(
            lambda: generate_catalogue(rows, seed=seed),
            f"built-in catalogue ({rows:,} rows, seed {seed})",
            replace,
            progress or _quiet,
        )

    def import_files(
        self,
        x: NamedSource,
        y: NamedSource | None = None,
        replace: bool = False,
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Validate and import the challenge's X/Y pair, or one labelled CSV when ``y`` is None."""
        if y is None:
            return self._import(lambda: read_labelled_csv(x), x.name, replace, progress or _quiet)
        return self._import(
            lambda: read_challenge_files(x, y), f"{x.name} + {y.name}", replace, progress or _quiet
        )

    def _import(
        self,
        read: Callable[[], pd.DataFrame],
        source: str,
        replace: bool,
        progress: Progress,
    ) -> ImportSummary:
        def run() -> ImportSummary:
            progress(f"Reading and validating {source}…")
            frame = read()
            progress(f"Writing {len(frame):,} products (holdout split, load order)…")
            return import_products(
                self._engine,
                frame,
                source=source,
                holdout_fraction=self._settings.holdout_fraction,
                seed=self._settings.seed,
                replace=replace,
            )

        return self._write(run)

    def initialize(self, triggered_by: str = "app") -> loading.LoadResult:
        """Load the initial stratified share."""
        bp = self._settings.initial_load_bp
        return self._write(lambda: loading.initialize(self._engine, bp, triggered_by))

    def load_next_batch(
        self, expected_bp: int | None = None, triggered_by: str = "app"
    ) -> loading.LoadResult:
        """Load the next stratified batch (nothing when ``expected_bp`` is stale)."""
        bp = self._settings.batch_bp
        return self._write(
            lambda: loading.load_next_batch(self._engine, bp, triggered_by, expected_bp)
        )

    def reset(self, triggered_by: str = "app") -> loading.LoadResult:
        """Unload every product."""
        return self._write(lambda: loading.reset(self._engine, triggered_by))

    def _read(self, query: Callable[[Connection], T]) -> T:
        with self._translated(), self._engine.connect() as conn:
            return query(conn)

    def _write(self, action: Callable[[], T]) -> T:
        with self._translated():
            return action()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            if not self._schema_ready:
                ensure_schema(self._engine)
                self._schema_ready = True
            yield
        except (DataValidationError, DatasetExists, loading.LoadRefused) as exc:
            raise Rejected(str(exc)) from exc
        except (OperationalError, InterfaceError) as exc:
            raise ServiceUnavailable(
                f"Database not reachable at {self.url} ({_first_line(exc)}). Start it, or point "
                "RAKUTEN_DATABASE_URL at a running database (see .env.example)."
            ) from exc
        except (SQLAlchemyError, self._engine.dialect.loaded_dbapi.Error, OSError) as exc:
            # The PostgreSQL bulk import talks to the driver directly, hence the DBAPI errors.
            raise ManagerError(f"Database error on {self.url}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return next(iter(text.splitlines()), type(exc).__name__)
